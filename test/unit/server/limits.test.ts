/**
 * The rate limits and session caps, on a real express app on loopback with a
 * fake auth (two tokens, two principals). Client addresses come from
 * X-Forwarded-For, trusted from loopback only (`trust proxy: 'loopback'`), as
 * behind the NAS's reverse proxy.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRateLimits } from '../../../src/http/rateLimit.js';
import { SessionRegistry } from '../../../src/http/sessions.js';
import { memoryLogger } from './fixtures.js';

const PRE_AUTH = 3;
const PER_PRINCIPAL = 5;
const TOKENS: Record<string, string> = { 'token-a': 'a', 'token-b': 'b', 'token-c': 'c' };

let server: Server;
let base: string;

beforeAll(async () => {
  const limits = createRateLimits({ preAuthPerMinute: PRE_AUTH, perPrincipalPerMinute: PER_PRINCIPAL });
  const app = express();
  app.set('trust proxy', 'loopback');
  app.get('/healthz', (_req, res) => void res.json({ ok: true }));
  app.use(limits.preAuth);
  app.get('/authorize', (_req, res) => void res.json({ form: true }));
  const auth = (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    const principal = m ? TOKENS[m[1]!] : undefined;
    if (!principal) return limits.onAuthFailure(req, res, next, () => void res.status(401).json({ error: 'unauthorized' }));
    (req as Request & { auth: { clientId: string } }).auth = { clientId: principal };
    return limits.perPrincipal(req, res, next);
  };
  app.post('/mcp', auth, (req, res) => void res.json({ principal: (req as Request & { auth: { clientId: string } }).auth.clientId }));
  app.use((_req, res) => void res.status(404).json({ error: 'not_found' }));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});
afterEach(() => {
  vi.useRealTimers();
});

async function hit(from: string, path: string, token?: string): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const headers: Record<string, string> = { 'X-Forwarded-For': from };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(`${base}${path}`, { method: path === '/mcp' ? 'POST' : 'GET', headers });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}
const statuses = async (n: number, f: () => Promise<{ status: number }>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await f()).status);
  return out;
};

describe('pre-auth limit (per client address)', () => {
  it('counts requests without credentials, then 429 with Retry-After; the OAuth-style body off the MCP routes', async () => {
    expect(await statuses(PRE_AUTH, () => hit('10.0.0.1', '/authorize'))).toEqual([200, 200, 200]);
    const over = await hit('10.0.0.1', '/nothing');
    expect(over.status).toBe(429);
    expect(Number(over.retryAfter)).toBeGreaterThan(0);
    expect(over.body).toMatchObject({ error: 'too_many_requests' });
    const mcp = await hit('10.0.0.1', '/mcp');
    expect(mcp.status).toBe(429);
    expect(mcp.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  });

  it('an address over its limit does not block an authorized client from the same address', async () => {
    expect(await statuses(PRE_AUTH + 2, () => hit('10.0.0.2', '/mcp', 'wrong'))).toEqual([401, 401, 401, 429, 429]);
    const ok = await hit('10.0.0.2', '/mcp', 'token-a');
    expect(ok).toMatchObject({ status: 200, body: { principal: 'a' } });
  });

  it('a failed auth counts once, whether the credentials are missing or wrong', async () => {
    expect(await statuses(2, () => hit('10.0.0.3', '/mcp'))).toEqual([401, 401]);
    expect((await hit('10.0.0.3', '/mcp', 'wrong')).status).toBe(401);
    expect((await hit('10.0.0.3', '/mcp')).status).toBe(429);
  });

  it('/healthz counts nowhere', async () => {
    expect(await statuses(PRE_AUTH * 3, () => hit('10.0.0.4', '/healthz'))).toEqual(Array(PRE_AUTH * 3).fill(200));
    expect((await hit('10.0.0.4', '/authorize')).status).toBe(200);
  });

  it('addresses are counted apart; IPv6 addresses of one /56 share a count', async () => {
    await statuses(PRE_AUTH + 1, () => hit('10.0.0.5', '/authorize'));
    expect((await hit('10.0.0.6', '/authorize')).status).toBe(200);
    await statuses(PRE_AUTH, () => hit('2001:db8:1:100::1', '/authorize'));
    expect((await hit('2001:db8:1:1ff::2', '/authorize')).status).toBe(429);
    expect((await hit('2001:db8:1:200::1', '/authorize')).status).toBe(200);
  });

  it('the window rolls over', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    await statuses(PRE_AUTH, () => hit('10.0.0.7', '/authorize'));
    expect((await hit('10.0.0.7', '/authorize')).status).toBe(429);
    vi.setSystemTime(Date.now() + 61_000);
    expect((await hit('10.0.0.7', '/authorize')).status).toBe(200);
  });
});

describe('per-principal limit (after auth)', () => {
  it('limits each principal on its own, and never touches the address count', async () => {
    const c = await statuses(PER_PRINCIPAL + 1, () => hit('10.0.1.1', '/mcp', 'token-c'));
    expect(c).toEqual([...Array(PER_PRINCIPAL).fill(200), 429]);
    const over = await hit('10.0.1.1', '/mcp', 'token-c');
    expect(over.body).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/for this client/) } });
    // Another principal from the same address is unaffected…
    expect((await hit('10.0.1.1', '/mcp', 'token-b')).status).toBe(200);
    // …and so is the address's pre-auth count (an anonymous request is still let through to auth).
    expect((await hit('10.0.1.1', '/mcp')).status).toBe(401);
  });
});

describe('session caps', () => {
  const registry = (maxSessions: number, maxPerPrincipal: number) =>
    new SessionRegistry({ idleTimeoutMs: 60_000, maxSessions, maxPerPrincipal, log: memoryLogger().log, busy: () => false });
  const fake = { server: { close: async () => {} } as never, transport: {} as never };

  it('caps sessions per principal, counting those being opened', () => {
    const reg = registry(10, 2);
    const r1 = reg.reserve('p1');
    const r2 = reg.reserve('p1');
    expect('release' in r1 && 'release' in r2).toBe(true);
    expect(reg.reserve('p1')).toEqual({ refused: 'principal', limit: 2 });
    expect('release' in reg.reserve('p2')).toBe(true);
    reg.add({ id: 's1', kind: 'sse', principal: 'p1', ...fake });
    if ('release' in r1) r1.release();
    expect(reg.countFor('p1')).toBe(2);
    expect(reg.reserve('p1')).toEqual({ refused: 'principal', limit: 2 });
    if ('release' in r2) {
      r2.release(); // that open failed: its slot comes back
      r2.release(); // idempotent
    }
    expect(reg.countFor('p1')).toBe(1);
    expect('release' in reg.reserve('p1')).toBe(true);
  });

  it('the global cap applies across principals', () => {
    const reg = registry(2, 2);
    reg.add({ id: 's1', kind: 'sse', principal: 'p1', ...fake });
    expect('release' in reg.reserve('p2')).toBe(true);
    expect(reg.full).toBe(true);
    expect(reg.reserve('p3')).toEqual({ refused: 'server', limit: 2 });
    reg.forget('s1');
    expect('release' in reg.reserve('p3')).toBe(true);
  });
});

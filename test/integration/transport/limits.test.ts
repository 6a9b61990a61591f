/**
 * Limits that protect without locking anyone out, on a real server on an
 * ephemeral loopback port with the fake tools (no NAS): every client here
 * comes from 127.0.0.1, as behind the NAS's reverse proxy.
 *
 * - a flood of unauthenticated requests: the flooding address gets 429, the
 *   authorized client keeps working;
 * - an authenticated flood: that principal gets 429, the address's
 *   pre-auth count is untouched;
 * - behind a proxy (trustProxy: 1), addresses are counted apart;
 * - slow headers / a slow body: 408 and the connection closes; a streamed
 *   response (SSE) outlives the request timeout;
 * - the connection cap; sessions per principal;
 * - `auth.trustProxy: true` refused at start (the CLI, exit 2); a warning
 *   when OAuth's https URL shows a proxy in front but trustProxy is unset.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config.js';
import { createHttpApp, startHttp, type RunningHttp } from '../../../src/server.js';
import { API_TOKEN, SUDO_PASSWORD, testConfig, testDeps } from '../../unit/server/fixtures.js';

const AUTH = { Authorization: `Bearer ${API_TOKEN}` };
const mcpHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const initBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});
const listBody = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

const toClose: RunningHttp[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(toClose.splice(0).map((r) => r.shutdown()));
});

async function serve(server: Partial<Config['server']>, adjust: (c: Config) => void = () => {}): Promise<RunningHttp> {
  const config = testConfig({ server });
  adjust(config);
  const running = await startHttp(testDeps({ config }));
  toClose.push(running);
  return running;
}

async function streamableClient(url: string, name = 'limits') {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: AUTH } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** Runs `n` requests, `concurrency` at a time; returns their statuses in order. */
async function flood(n: number, concurrency: number, one: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

const tally = (codes: number[]) => codes.reduce<Record<number, number>>((m, c) => ((m[c] = (m[c] ?? 0) + 1), m), {});

/** A raw TCP connection, collecting what the server sends and noticing when it closes. */
function rawSocket(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const u = new URL(url);
  return new Promise((resolveSocket, reject) => {
    const socket = connect(Number(u.port), u.hostname);
    sockets.push(socket);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('error', () => {});
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => resolveSocket({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Resolves 'closed' when `closed` settles, 'open' if it has not after `capMs` (a bound on waiting, not a measurement). */
function closedWithin(closed: Promise<void>, capMs: number): Promise<'closed' | 'open'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    closed.then(() => 'closed' as const),
    new Promise<'open'>((r) => (timer = setTimeout(() => r('open'), capMs))),
  ]).finally(() => clearTimeout(timer));
}

/** One request on a fresh connection (no keep-alive pool): status, or the socket error's code. */
function freshRequest(url: string, path: string): Promise<number | string> {
  const u = new URL(url);
  return new Promise((resolveReq) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolveReq(res.statusCode ?? 0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolveReq(e.code ?? e.message));
    req.end();
  });
}

async function connectionsOf(running: RunningHttp): Promise<number> {
  return new Promise((r, j) => running.httpServer.getConnections((e, n) => (e ? j(e) : r(n))));
}
async function until(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not reached');
}

describe('rate limits', () => {
  it('700 unauthenticated requests from one address: that address gets 429, the authorized client still gets 200', async () => {
    const running = await serve({ preAuthRateLimitPerMinute: 60, rateLimitPerMinute: 600 });
    const url = running.url;
    const kinds = [
      () => fetch(`${url}/mcp`, { method: 'POST', headers: mcpHeaders, body: initBody }),
      () => fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, Authorization: 'Bearer guess' }, body: initBody }),
      () => fetch(`${url}/sse`),
      () => fetch(`${url}/.well-known/oauth-authorization-server`),
      () => fetch(`${url}/nothing`),
    ];
    const codes = await flood(700, 25, async (i) => {
      const res = await kinds[i % kinds.length]!();
      await res.arrayBuffer();
      return res.status;
    });
    const t = tally(codes);
    expect(t[429]).toBe(700 - 60);
    expect((t[401] ?? 0) + (t[404] ?? 0)).toBe(60);
    const still = await fetch(`${url}/mcp`, { method: 'POST', headers: mcpHeaders, body: initBody });
    expect(still.status).toBe(429);
    expect(Number(still.headers.get('retry-after'))).toBeGreaterThan(0);

    // The authorized client, from the very same address.
    const { client, transport } = await streamableClient(url);
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name)).toContain('echo_status');
    const list = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, ...AUTH, 'Mcp-Session-Id': transport.sessionId!, 'Mcp-Protocol-Version': '2025-06-18' },
      body: listBody,
    });
    expect(list.status).toBe(200);
    expect(await list.text()).toContain('echo_status');
    // /healthz is not what locks anyone out.
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await client.close();
  });

  it('an authenticated flood hits its own principal limit; the address and /healthz are unaffected', async () => {
    const running = await serve({ preAuthRateLimitPerMinute: 5, rateLimitPerMinute: 30 });
    const url = running.url;
    const { client, transport } = await streamableClient(url);
    const headers = { ...mcpHeaders, ...AUTH, 'Mcp-Session-Id': transport.sessionId!, 'Mcp-Protocol-Version': '2025-06-18' };
    const codes = await flood(60, 10, async () => {
      const res = await fetch(`${url}/mcp`, { method: 'POST', headers, body: listBody });
      await res.arrayBuffer();
      return res.status;
    });
    const t = tally(codes);
    expect(t[200]).toBeGreaterThan(0);
    expect(t[429]).toBeGreaterThan(0);
    expect((t[200] ?? 0) + (t[429] ?? 0)).toBe(60);
    const over = await fetch(`${url}/mcp`, { method: 'POST', headers, body: listBody });
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await over.json()) as { error: { message: string } }).error.message).toMatch(/for this client/);
    // The address's small pre-auth budget (5) was not spent by the authenticated requests.
    const anon = await flood(5, 1, async () => (await fetch(`${url}/mcp`, { method: 'POST', headers: mcpHeaders, body: initBody })).status);
    expect(anon).toEqual([401, 401, 401, 401, 401]);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    await client.close().catch(() => {});
  });

  it('--no-auth (loopback): MCP requests are the anonymous principal\'s, not counted against the address', async () => {
    const config = testConfig({ server: { preAuthRateLimitPerMinute: 3 } });
    const running = await startHttp(testDeps({ config, secrets: { sudoPassword: SUDO_PASSWORD } }), { noAuth: true });
    toClose.push(running);
    const transport = new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`));
    const client = new Client({ name: 'anon', version: '1.0.0' });
    await client.connect(transport);
    for (let i = 0; i < 5; i++) expect((await client.listTools()).tools.length).toBeGreaterThan(0);
    await client.close();
    expect(await flood(5, 1, async () => (await fetch(`${running.url}/nothing`)).status)).toEqual([404, 404, 404, 429, 429]);
  });

  it('behind a reverse proxy (trustProxy: 1) each forwarded address has its own pre-auth count', async () => {
    const running = await serve({ preAuthRateLimitPerMinute: 5 }, (c) => {
      c.auth.trustProxy = 1;
    });
    const from = (ip: string) => fetch(`${running.url}/nothing`, { headers: { 'X-Forwarded-For': ip } }).then((r) => r.status);
    const attacker = await flood(8, 1, () => from('203.0.113.9'));
    expect(attacker).toEqual([404, 404, 404, 404, 404, 429, 429, 429]);
    expect(await from('198.51.100.7')).toBe(404);
  });
});

describe('timeouts and the connection cap', () => {
  const quick = (c: Config) => {
    // Below the schema's minimums, for the test.
    c.server.headersTimeoutMs = 400;
    c.server.requestTimeoutMs = 800;
  };

  it('a body sent too slowly: 408 and the connection is closed', async () => {
    const running = await serve({}, quick);
    const { socket, received, closed } = await rawSocket(running.url);
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${API_TOKEN}\r\n` +
        'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 5000\r\n\r\n{"jsonrpc":',
    );
    const drip = setInterval(() => socket.writable && socket.write(' '), 50);
    try {
      expect(await closedWithin(closed, 15_000)).toBe('closed');
    } finally {
      clearInterval(drip);
    }
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('headers sent too slowly: 408 and the connection is closed', async () => {
    const running = await serve({}, quick);
    const { socket, received, closed } = await rawSocket(running.url);
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => socket.writable && socket.write('X-Pad: a\r\n'), 50);
    try {
      expect(await closedWithin(closed, 15_000)).toBe('closed');
    } finally {
      clearInterval(drip);
    }
    expect(received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a streamed response (SSE) is not cut by the request timeout', async () => {
    const running = await serve({}, quick);
    const transport = new SSEClientTransport(new URL(`${running.url}/sse`), { requestInit: { headers: AUTH } });
    const client = new Client({ name: 'sse-long', version: '1.0.0' });
    await client.connect(transport);
    await new Promise((r) => setTimeout(r, 2_000)); // well past requestTimeoutMs
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'later' } })) as CallToolResult;
    expect(r.structuredContent).toEqual({ greeting: 'hello later', count: 1 });
    await client.close();
  });

  it('connections beyond server.maxConnections are closed on accept', async () => {
    const running = await serve({ maxConnections: 3 });
    const held = await Promise.all([1, 2, 3].map(() => rawSocket(running.url)));
    await until(async () => (await connectionsOf(running)) === 3);
    const refused = await freshRequest(running.url, '/healthz');
    expect(refused).not.toBe(200);
    expect(['ECONNRESET', 'EPIPE', 'socket hang up']).toContain(refused);
    held[0]!.socket.destroy();
    await until(async () => (await connectionsOf(running)) === 2);
    expect(await freshRequest(running.url, '/healthz')).toBe(200);
  });
});

describe('sessions per principal', () => {
  it('a principal at its cap gets 429 with a clear message (Streamable HTTP and SSE); closing one frees a slot', async () => {
    const running = await serve({ maxSessions: 10, maxSessionsPerPrincipal: 2 });
    const url = running.url;
    const a = await streamableClient(url, 'a');
    const b = await streamableClient(url, 'b');
    const third = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, ...AUTH }, body: initBody });
    expect(third.status).toBe(429);
    expect(((await third.json()) as { error: { message: string } }).error.message).toMatch(
      /Too many open sessions for this client \(limit 2\)/,
    );
    const sse = await fetch(`${url}/sse`, { headers: AUTH });
    expect(sse.status).toBe(429);
    expect(running.http.sessions.size).toBe(2);
    // The open sessions keep working.
    expect((await b.client.listTools()).tools.length).toBeGreaterThan(0);
    await a.transport.terminateSession();
    await a.client.close();
    const c = await streamableClient(url, 'c');
    expect(running.http.sessions.size).toBe(2);
    await c.client.close();
    await b.client.close();
  });
});

describe('auth.trustProxy', () => {
  it('OAuth behind an https public URL without trustProxy: a startup warning says to set it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loop-ops-trust-'));
    try {
      const warned = async (trustProxy: Config['auth']['trustProxy']) => {
        const config = testConfig();
        config.auth = {
          ...config.auth,
          trustProxy,
          oauth: { ...config.auth.oauth, enabled: true, publicBaseUrl: 'https://ops.example.test', stateFile: join(dir, `oauth-${String(trustProxy)}.json`) },
        };
        const deps = testDeps({ config, secrets: { sudoPassword: SUDO_PASSWORD, apiToken: API_TOKEN, adminPassphrase: 'correct horse battery staple' } });
        const app = createHttpApp(deps);
        await app.shutdown();
        return deps.logLines.some((l) => l.includes('auth.trustProxy is not set'));
      };
      expect(await warned(false)).toBe(true);
      expect(await warned(1)).toBe(false);
      expect(await warned('127.0.0.1')).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });


  it('true is refused at start with a clear message (exit 2)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'loop-ops-trust-'));
    try {
      const file = join(dir, 'config.yaml');
      await writeFile(
        file,
        ['nas:', '  username: ops', '  privateKeyPath: ./id_ed25519', `  hostKeyFingerprint: "SHA256:${'C'.repeat(43)}"`, 'sudo:', '  mode: none', 'server:', '  port: 1', 'auth:', '  trustProxy: true', ''].join('\n'),
      );
      const root = resolve(import.meta.dirname, '../../..');
      const env: NodeJS.ProcessEnv = { ...process.env, LOOP_OPS_TOKEN: API_TOKEN };
      for (const k of Object.keys(env)) if (k.startsWith('LOOP_OPS__')) delete env[k];
      const child = spawn(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'src', 'cli.ts'), 'serve', '--config', file], {
        cwd: root,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      expect(code).toBe(2);
      expect(stderr).toMatch(/^loop-ops-mcp: config: auth\.trustProxy: true would trust every X-Forwarded-For entry.*bypass the rate limits/m);
      expect(stderr).toMatch(/number of reverse proxies in front/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

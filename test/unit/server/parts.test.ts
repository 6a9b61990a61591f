/**
 * The framework's small parts, one by one: inventory lint and filtering,
 * policy, audit redaction and queue, host list, NAS probe cache,
 * session expiry, CLI parsing.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { AuditLog, redactArgs, type AuditRecord } from '../../../src/audit.js';
import { parseCli } from '../../../src/cli.js';
import { cachedProbe } from '../../../src/http/health.js';
import { isLoopbackHost, normalizeAllowedHost } from '../../../src/http/hosts.js';
import { SessionRegistry } from '../../../src/http/sessions.js';
import { SecretScrubber } from '../../../src/log.js';
import { CallTracker, checkPolicy, scrubDeep } from '../../../src/tools/guard.js';
import { InventoryError, lintToolDefinition, ToolInventory } from '../../../src/tools/inventory.js';
import { defineTool, type AnyToolDefinition, type Caller } from '../../../src/tools/types.js';
import { echoTool, fakeServices, fakeTools, memoryLogger, restartTool } from './fixtures.js';

describe('inventory', () => {
  it('accepts the fake tools', () => {
    for (const t of fakeTools) expect(lintToolDefinition(t as AnyToolDefinition)).toEqual([]);
  });

  it('reports every problem of a sloppy definition', () => {
    const bad = {
      name: 'Bad-Name',
      title: '',
      description: 'short',
      inputSchema: {
        free: z.string(),
        n: z.number().describe('unbounded'),
        i: z.number().int().describe('int without bounds'),
        nested: z.object({ a: z.string().max(3) }).describe('nested'),
        list: z.array(z.string().max(3)).describe('no max items'),
      },
      outputSchema: {},
      annotations: { readOnlyHint: true, destructiveHint: true, idempotentHint: true } as never,
      access: 'read',
      handler: () => async () => ({ structured: {}, text: '' }),
    } as AnyToolDefinition;
    const p = lintToolDefinition(bad).join('\n');
    expect(p).toMatch(/name must be snake_case/);
    expect(p).toMatch(/title is empty/);
    expect(p).toMatch(/description must tell/);
    expect(p).toMatch(/annotations.openWorldHint must be set/);
    expect(p).toMatch(/read tool cannot be destructive/);
    expect(p).toMatch(/input field free has no .describe\(\)/);
    expect(p).toMatch(/input free: string without a bound/);
    expect(p).toMatch(/input n: number without both bounds/);
    expect(p).toMatch(/input i: number without both bounds/);
    expect(p).toMatch(/input nested: nested object/);
    expect(p).toMatch(/input list: array without .max\(\)/);
  });

  it('requires readOnlyHint to match access', () => {
    const t = { ...restartTool, annotations: { ...restartTool.annotations, readOnlyHint: true } };
    expect(lintToolDefinition(t as AnyToolDefinition).join()).toMatch(/write tool must have readOnlyHint: false/);
  });

  it('refuses duplicates and bad definitions at creation, filters write tools when read-only', () => {
    expect(() => ToolInventory.create([echoTool, echoTool], one(fakeServices()), { readOnly: false })).toThrow(InventoryError);
    const all = ToolInventory.create(fakeTools, one(fakeServices()), { readOnly: false });
    expect(all.names).toContain('restart_color');
    const ro = ToolInventory.create(fakeTools, one(fakeServices()), { readOnly: true });
    expect(ro.names).not.toContain('restart_color');
    expect(ro.names).toContain('echo_status');
  });

  it('builds each handler once from the services', () => {
    const factory = vi.fn(() => async () => ({ structured: {}, text: 'x' }));
    const t = { ...echoTool, outputSchema: {}, handler: factory } as unknown as AnyToolDefinition;
    ToolInventory.create([t], one(fakeServices()), { readOnly: false });
    expect(factory).toHaveBeenCalledTimes(1);
  });
});

/** One blue-green app on one target. */
function one(services: unknown) {
  return { scopes: [{ target: 'default', app: 'loop-api', strategy: 'blue-green', services }] };
}

describe('policy', () => {
  const caller = (scopes: string[]): Caller => ({ id: 'c', transport: 'streamable-http', scopes });
  it('read-only denies write tools even if they got registered', () => {
    expect(checkPolicy(restartTool as AnyToolDefinition, caller(['ops:read', 'ops:write']), { readOnly: true })).toMatchObject({
      allowed: false,
    });
  });
  it('checks scopes by access', () => {
    expect(checkPolicy(echoTool as AnyToolDefinition, caller(['ops:read']), { readOnly: false }).allowed).toBe(true);
    expect(checkPolicy(restartTool as AnyToolDefinition, caller(['ops:read']), { readOnly: false }).allowed).toBe(false);
    expect(checkPolicy(echoTool as AnyToolDefinition, caller([]), { readOnly: false }).allowed).toBe(false);
  });
});

describe('redaction', () => {
  const scrubber = new SecretScrubber(['hunter22', 'tok-abcdef']);
  it('redacts args by key name and by value, cuts long strings', () => {
    const out = redactArgs(
      { password: 'x', apiKey: 'y', Authorization: 'z', sudoPassword: 'w', note: 'pw hunter22', n: 3, long: 'a'.repeat(1500), list: ['tok-abcdef'] },
      scrubber,
    ) as Record<string, unknown>;
    expect(out).toMatchObject({
      password: '[redacted]',
      apiKey: '[redacted]',
      Authorization: '[redacted]',
      sudoPassword: '[redacted]',
      note: 'pw [redacted]',
      n: 3,
      list: ['[redacted]'],
    });
    expect(String(out.long)).toMatch(/^a{1000}…\[500 more chars\]$/);
  });
  it('scrubDeep walks objects and arrays', () => {
    expect(scrubDeep({ a: ['hunter22', 1, null, { b: 'x tok-abcdef' }] }, scrubber)).toEqual({
      a: ['[redacted]', 1, null, { b: 'x [redacted]' }],
    });
  });
});

describe('audit log', () => {
  const rec = (tool: string): AuditRecord => ({
    ts: new Date().toISOString(),
    caller: 'stdio',
    transport: 'stdio',
    tool,
    args: {},
    outcome: 'ok',
    durationMs: 1,
  });

  it('appends JSON lines in order, creating the directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-'));
    const file = join(dir, 'a', 'b', 'audit.jsonl');
    const audit = new AuditLog({ log: memoryLogger().log, file });
    for (let i = 0; i < 50; i++) audit.record(rec(`t${i}`));
    await audit.flush();
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as AuditRecord).tool)).toEqual(Array.from({ length: 50 }, (_, i) => `t${i}`));
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps records when the disk refuses them and writes them later', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-'));
    const blocker = join(dir, 'blocker');
    await writeFile(blocker, 'a file where a directory should be');
    const file = join(blocker, 'audit.jsonl');
    const { log, lines } = memoryLogger();
    const audit = new AuditLog({ log, file });
    audit.record(rec('first'));
    await audit.flush();
    expect(lines.some((l) => l.includes('cannot append to the audit file'))).toBe(true);
    await rm(blocker);
    await audit.flush();
    audit.record(rec('second'));
    await audit.flush();
    const tools = (await readFile(file, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as AuditRecord).tool);
    expect(tools).toEqual(['first', 'second']);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('hosts', () => {
  it('normalizes allowed hosts to hostnames', () => {
    expect(normalizeAllowedHost('Example.COM:8765')).toBe('example.com');
    expect(normalizeAllowedHost('localhost')).toBe('localhost');
    expect(normalizeAllowedHost('::1')).toBe('[::1]');
    expect(normalizeAllowedHost('[::1]:80')).toBe('[::1]');
  });
  it('knows loopback', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '192.168.1.5', 'nas.local', '::'].some(isLoopbackHost)).toBe(false);
  });
});

describe('NAS probe cache', () => {
  it('caches for the TTL, shares concurrent probes, maps throws and timeouts to false', async () => {
    let t = 0;
    let n = 0;
    const probe = cachedProbe({
      probe: async () => {
        n++;
        return true;
      },
      log: memoryLogger().log,
      ttlMs: 5_000,
      now: () => t,
    });
    expect(await Promise.all([probe(), probe(), probe()])).toEqual([true, true, true]);
    expect(n).toBe(1);
    t = 4_000;
    await probe();
    expect(n).toBe(1);
    t = 6_000;
    await probe();
    expect(n).toBe(2);

    const throwing = cachedProbe({ probe: async () => Promise.reject(new Error('nas.example: ECONNREFUSED')), log: memoryLogger().log });
    expect(await throwing()).toBe(false);
    const hanging = cachedProbe({ probe: () => new Promise<boolean>(() => {}), log: memoryLogger().log, timeoutMs: 20 });
    expect(await hanging()).toBe(false);
  });
});

describe('session registry', () => {
  it('expires idle sessions but not busy ones, and binds sessions to their principal', async () => {
    let t = 0;
    const busy = new Set<string>();
    const reg = new SessionRegistry({
      idleTimeoutMs: 1_000,
      maxSessions: 2,
      log: memoryLogger().log,
      busy: (id) => busy.has(id),
      now: () => t,
    });
    const closed: string[] = [];
    const fakeServer = (id: string) => ({ close: async () => void closed.push(id) }) as never;
    reg.add({ id: 'a', kind: 'sse', principal: 'p1', server: fakeServer('a'), transport: {} as never });
    reg.add({ id: 'b', kind: 'sse', principal: 'p1', server: fakeServer('b'), transport: {} as never });
    expect(reg.full).toBe(true);
    expect(reg.use('a', 'p2')).toBeUndefined();
    busy.add('b');
    t = 500;
    expect(reg.use('a', 'p1')).toBeDefined();
    t = 1_200;
    expect(await reg.sweep()).toEqual([]); // a touched at 500; b busy
    t = 1_600;
    expect(await reg.sweep()).toEqual(['a']);
    expect(closed).toEqual(['a']);
    busy.delete('b');
    t = 2_300; // b's clock restarted at 1_200 (busy during the sweep)
    expect(await reg.sweep()).toEqual(['b']);
    expect(reg.size).toBe(0);
  });
});

describe('call tracker', () => {
  it('links the request signal and drains', async () => {
    const tracker = new CallTracker();
    const req = new AbortController();
    const call = tracker.begin(req.signal, { tool: 't', sessionId: 's' });
    expect(tracker.countForSession('s')).toBe(1);
    req.abort();
    expect(call.signal.aborted).toBe(true);
    const drained = tracker.drain(1_000);
    call.end();
    expect(await drained).toBe(true);
    expect(tracker.size).toBe(0);
  });
});

describe('cli parsing', () => {
  it('parses serve and stdio', () => {
    expect(parseCli(['serve', '--config', 'c.yaml', '--read-only', '--port', '9000', '--host', '0.0.0.0', '--no-auth'])).toEqual({
      command: 'serve',
      config: 'c.yaml',
      readOnly: true,
      port: 9000,
      host: '0.0.0.0',
      noAuth: true,
    });
    expect(parseCli(['stdio', '-c', 'x.json'])).toMatchObject({ command: 'stdio', config: 'x.json', readOnly: false });
    expect(parseCli(['--version']).command).toBe('version');
    expect(parseCli(['--help']).command).toBe('help');
  });
  it('rejects bad usage', () => {
    expect(() => parseCli([])).toThrow(/missing command/);
    expect(() => parseCli(['deploy'])).toThrow(/unknown command: deploy/);
    expect(() => parseCli(['serve', '--bogus'])).toThrow(/bogus/);
    expect(() => parseCli(['serve', '--port', 'http'])).toThrow(/--port/);
    expect(() => parseCli(['serve', '--port', '70000'])).toThrow(/--port/);
    expect(() => parseCli(['stdio', '--port', '1'])).toThrow(/serve/);
  });
});

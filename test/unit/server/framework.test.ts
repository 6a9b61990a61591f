/**
 * The MCP framework end to end in memory: SDK Client ⇄ InMemoryTransport ⇄
 * McpServer built by createMcpServer, with fake tools.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../../src/audit.js';
import { createCore, createMcpServer, SERVER_NAME, VERSION, type ServerCore } from '../../../src/server.js';
import type { TransportKind } from '../../../src/tools/types.js';
import { API_TOKEN, SUDO_PASSWORD, testConfig, testDeps, type FakeServices, type TestDeps } from './fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loop-ops-server-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Harness {
  client: Client;
  deps: TestDeps;
  core: ServerCore;
  services: FakeServices;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

async function connect(
  opts: { readOnly?: boolean; auditFile?: string; transport?: TransportKind; authInfo?: AuthInfo; sessionScopes?: string[] } = {},
): Promise<Harness> {
  const deps = testDeps({
    config: testConfig({ server: { readOnly: opts.readOnly ?? false }, log: { auditFile: opts.auditFile } }),
  });
  const core = createCore(deps);
  const server = createMcpServer(core, opts.transport ?? 'stdio', opts.sessionScopes ? { scopes: opts.sessionScopes } : {});
  const [clientT, serverT] = InMemoryTransport.createLinkedPair();
  if (opts.authInfo) {
    // Stand in for the HTTP auth middleware: every message arrives with this AuthInfo.
    const send = clientT.send.bind(clientT);
    clientT.send = (m, o) => send(m, { ...o, authInfo: opts.authInfo });
  }
  await server.connect(serverT);
  const client = new Client({ name: 'unit-test', version: '1.2.3' });
  await client.connect(clientT);
  return {
    client,
    deps,
    core,
    services: deps.services,
    call: async (name, args = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('server info and tools/list', () => {
  it('announces name, version and instructions', async () => {
    const h = await connect();
    expect(h.client.getServerVersion()).toMatchObject({ name: SERVER_NAME, version: VERSION });
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    expect(h.client.getInstructions()).toMatch(/status/);
    expect(h.client.getInstructions()).toMatch(/loop-api/);
    await h.close();
  });

  it('lists titles, all four annotations, flat strict input schemas and output schemas', async () => {
    const h = await connect();
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['crash_op', 'echo_status', 'leaky_op', 'locked_op', 'restart_color', 'slow_op'].sort(),
    );
    const echo = tools.find((t) => t.name === 'echo_status')!;
    expect(echo.title).toBe('Echo status');
    expect(echo.annotations).toMatchObject({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: false,
    });
    expect(echo.inputSchema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: {
        name: { type: 'string', maxLength: 32, description: 'Who to greet' },
        count: { type: 'integer', minimum: 1, maximum: 5, default: 1 },
      },
      required: ['name'],
    });
    expect(echo.outputSchema).toMatchObject({ type: 'object', properties: { greeting: { type: 'string' } } });
    expect(JSON.stringify(tools)).not.toContain('$ref');
    const restart = tools.find((t) => t.name === 'restart_color')!;
    expect(restart.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    await h.close();
  });
});

describe('no tools', () => {
  it('tools/list answers an empty list (capability declared up front)', async () => {
    const deps = testDeps({ tools: [] });
    const server = createMcpServer(createCore(deps), 'stdio');
    const [clientT, serverT] = InMemoryTransport.createLinkedPair();
    await server.connect(serverT);
    const client = new Client({ name: 'unit-test', version: '1' });
    await client.connect(clientT);
    expect(client.getServerCapabilities()?.tools).toBeDefined();
    expect((await client.listTools()).tools).toEqual([]);
    await client.close();
  });
});

describe('calls', () => {
  it('returns text content plus structuredContent', async () => {
    const h = await connect();
    const r = await h.call('echo_status', { name: 'nas', count: 2 });
    expect(r.isError).toBeFalsy();
    expect(r.structuredContent).toEqual({ greeting: 'hello nas, hello nas', count: 2 });
    expect(textOf(r)).toBe('hello nas, hello nas (caller stdio)');
    await h.close();
  });

  it('invalid input → isError from the SDK, handler never called', async () => {
    const h = await connect();
    const tooMany = await h.call('echo_status', { name: 'nas', count: 99 });
    expect(tooMany.isError).toBe(true);
    expect(textOf(tooMany)).toMatch(/Input validation error/);
    expect(textOf(tooMany)).toMatch(/count/);
    const missing = await h.call('echo_status', {});
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/name/);
    const unknownKey = await h.call('echo_status', { name: 'x', colour: 'blue' });
    expect(unknownKey.isError).toBe(true);
    expect(textOf(unknownKey)).toMatch(/colour/);
    const badEnum = await h.call('restart_color', { color: 'red' });
    expect(badEnum.isError).toBe(true);
    expect(h.services.calls).toEqual({});
    await h.close();
  });

  it('ToolError → isError with the message and a Hint line', async () => {
    const h = await connect();
    const r = await h.call('locked_op');
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    expect(textOf(r)).toBe(
      'The deploy lock is held by alice since 10:00.\nHint: Wait for her deploy to finish, or release the lock.',
    );
    await h.close();
  });

  it('an unexpected error → generic isError, secret scrubbed, no stack trace', async () => {
    const h = await connect();
    const r = await h.call('crash_op', {});
    expect(r.isError).toBe(true);
    const t = textOf(r);
    expect(t).toMatch(/^Internal error in crash_op: sudo: echo \[redacted\] \| sudo -S failed/);
    expect(t).not.toContain(SUDO_PASSWORD);
    expect(t).not.toMatch(/\n\s+at /);
    // The log has the (scrubbed) stack, never the secret.
    expect(h.deps.logLines.some((l) => l.includes('tool failed'))).toBe(true);
    expect(h.deps.logLines.join('\n')).not.toContain(SUDO_PASSWORD);
    await h.close();
  });

  it('scrubs secret values from text and structured output', async () => {
    const h = await connect();
    const r = await h.call('leaky_op');
    expect(r.isError).toBeFalsy();
    const all = JSON.stringify(r);
    expect(all).not.toContain(SUDO_PASSWORD);
    expect(all).not.toContain(API_TOKEN);
    expect(r.structuredContent).toEqual({ stderr: '[sudo] password: [redacted]', lines: ['ok', 'token=[redacted]'] });
    expect(textOf(r)).toBe('stderr was: [redacted]; header Bearer [redacted]');
    await h.close();
  });

  it('sends progress notifications when the client passes onprogress', async () => {
    const h = await connect();
    const seen: Progress[] = [];
    const r = await h.client.callTool({ name: 'echo_status', arguments: { name: 'p' } }, undefined, {
      onprogress: (p) => seen.push(p),
    });
    expect(r.isError).toBeFalsy();
    expect(seen).toEqual([
      { progress: 0, total: 2, message: 'starting' },
      { progress: 1, total: 2, message: 'half way' },
      { progress: 2, total: 2, message: 'done' },
    ]);
    // Without onprogress the handler's progress() is a no-op.
    const r2 = await h.call('echo_status', { name: 'q' });
    expect(r2.isError).toBeFalsy();
    await h.close();
  });
});

describe('read-only mode', () => {
  it('hides write tools from tools/list and refuses to call them', async () => {
    const h = await connect({ readOnly: true });
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('restart_color');
    expect(tools.map((t) => t.name)).toContain('echo_status');
    const r = await h.call('restart_color', { color: 'blue' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/restart_color not found/);
    expect(h.services.calls.restart_color).toBeUndefined();
    expect(h.client.getInstructions()).toMatch(/READ-ONLY/);
    await h.close();
  });
});

describe('policy by scopes (HTTP callers)', () => {
  it('a session started with ops:read registers no write tool: tools/list shows none, a call finds none', async () => {
    const h = await connect({
      transport: 'streamable-http',
      authInfo: { token: 'x', clientId: 'reader-2', scopes: ['ops:read'] },
      sessionScopes: ['ops:read'],
    });
    const names = (await h.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('echo_status');
    expect(names).not.toContain('restart_color');
    expect(h.core.inventory.namesFor(['ops:read'])).toEqual(names);
    const r = await h.call('restart_color', { color: 'green' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/restart_color not found/);
    expect(h.services.calls.restart_color).toBeUndefined();
    await h.close();
  });

  it('a session started without any scope lists no tool at all; one with both lists every tool', async () => {
    const none = await connect({ transport: 'streamable-http', sessionScopes: [] });
    expect((await none.client.listTools()).tools).toEqual([]);
    await none.close();
    const all = await connect({ transport: 'streamable-http', sessionScopes: ['ops:read', 'ops:write'] });
    expect((await all.client.listTools()).tools.map((t) => t.name).sort()).toEqual(all.core.inventory.names.sort());
    await all.close();
  });

  it('denies a write tool to a caller without ops:write, and audits the denial', async () => {
    const auditFile = join(dir, 'audit.jsonl');
    const h = await connect({
      transport: 'streamable-http',
      auditFile,
      authInfo: { token: 'x', clientId: 'reader-1', scopes: ['ops:read'] },
    });
    const ok = await h.call('echo_status', { name: 'r' });
    expect(ok.isError).toBeFalsy();
    expect(textOf(ok)).toContain('caller reader-1');
    const denied = await h.call('restart_color', { color: 'green' });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(/needs the ops:write scope/);
    expect(textOf(denied)).toMatch(/\nHint: /);
    expect(h.services.calls.restart_color).toBeUndefined();
    await h.core.guard.audit.flush();
    const recs = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    expect(recs.map((r) => [r.tool, r.outcome, r.caller])).toEqual([
      ['echo_status', 'ok', 'reader-1'],
      ['restart_color', 'denied', 'reader-1'],
    ]);
    await h.close();
  });

  it('an HTTP caller without auth info gets nothing', async () => {
    const h = await connect({ transport: 'sse' });
    const r = await h.call('echo_status', { name: 'x' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/ops:read/);
    await h.close();
  });
});

describe('audit file', () => {
  it('gets one JSON line per call with redacted args, outcome and duration', async () => {
    const auditFile = join(dir, 'nested', 'dir', 'audit.jsonl');
    const h = await connect({ auditFile });
    await h.call('echo_status', { name: 'a' });
    await h.call('locked_op');
    await h.call('crash_op', { note: `my password is ${SUDO_PASSWORD}` });
    await h.call('echo_status', { name: 'a', count: 42 }); // invalid: SDK rejects before the guard
    await h.core.guard.audit.flush();
    const text = await readFile(auditFile, 'utf8');
    expect(text).not.toContain(SUDO_PASSWORD);
    const recs = text.trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    expect(recs).toHaveLength(3);
    expect(recs[0]).toMatchObject({
      caller: 'stdio',
      transport: 'stdio',
      client: 'unit-test/1.2.3',
      tool: 'echo_status',
      args: { name: 'a', count: 1 },
      outcome: 'ok',
    });
    expect(typeof recs[0]!.durationMs).toBe('number');
    expect(new Date(recs[0]!.ts).toString()).not.toBe('Invalid Date');
    expect(recs[1]).toMatchObject({ tool: 'locked_op', outcome: 'error', code: 'locked' });
    expect(recs[1]!.error).toMatch(/deploy lock is held/);
    expect(recs[2]).toMatchObject({ tool: 'crash_op', outcome: 'error', code: 'internal', args: { note: 'my password is [redacted]' } });
    expect(recs[2]!.error).toContain('[redacted]');
    // Also logged (info/warn) with the same record.
    expect(h.deps.logLines.filter((l) => l.includes('"audit"')).length).toBe(3);
    await h.close();
  });
});

describe('cancellation and shutdown', () => {
  it('aborting in-flight calls gives the handler an aborted signal and the caller a cancelled result', async () => {
    const h = await connect();
    const pending = h.call('slow_op');
    await vi_waitFor(() => h.core.guard.calls.size === 1);
    h.core.guard.calls.stopAccepting();
    const refused = await h.call('echo_status', { name: 'late' });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/shutting down/);
    expect(await h.core.guard.calls.drain(50)).toBe(false);
    h.core.guard.calls.abortAll('the server is shutting down');
    const r = await pending;
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/slow_op was cancelled: the server is shutting down/);
    expect(await h.core.guard.calls.drain(50)).toBe(true);
    await h.close();
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

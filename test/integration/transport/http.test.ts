/**
 * HTTP transports for real, on an ephemeral loopback port, with fake tools:
 * Streamable HTTP and legacy SSE via the SDK's clients, auth, Host check,
 * health, well-known, body limit, session expiry, shutdown (the limits:
 * limits.test.ts).
 */
import { request as httpRequest } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApp, startHttp, StartupError, type RunningHttp } from '../../../src/server.js';
import { API_TOKEN, SUDO_PASSWORD, testConfig, testDeps, type TestDeps } from '../../unit/server/fixtures.js';

const AUTH = { Authorization: `Bearer ${API_TOKEN}` };
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

async function streamableClient(url: string, headers: Record<string, string> = AUTH, name = 'it-streamable') {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers } });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

async function sseClient(url: string, headers: Record<string, string> = AUTH) {
  const transport = new SSEClientTransport(new URL(`${url}/sse`), { requestInit: { headers } });
  const client = new Client({ name: 'it-sse', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

/** Raw request, to control every header (Host, Content-Length…). */
function raw(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

const initBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});
const mcpHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

describe('HTTP server', () => {
  let deps: TestDeps;
  let running: RunningHttp;
  let url: string;

  beforeAll(async () => {
    deps = testDeps({ config: testConfig({ server: { maxBodyBytes: 4096 } }) });
    running = await startHttp(deps);
    url = running.url;
  });
  afterAll(async () => {
    await running.shutdown();
  });

  it('binds to 127.0.0.1', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('Streamable HTTP: lists and calls a tool', async () => {
    const { client, transport } = await streamableClient(url);
    expect(transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(client.getServerVersion()?.name).toBe('loop-ops-mcp');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo_status');
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'http' } })) as CallToolResult;
    expect(r.structuredContent).toEqual({ greeting: 'hello http', count: 1 });
    expect(textOf(r)).toMatch(/caller token:[0-9a-f]{12}/);
    const leak = (await client.callTool({ name: 'leaky_op', arguments: {} })) as CallToolResult;
    expect(JSON.stringify(leak)).not.toContain(SUDO_PASSWORD);
    expect(JSON.stringify(leak)).not.toContain(API_TOKEN);
    await transport.terminateSession();
    await client.close();
  });

  it('Streamable HTTP: progress notifications arrive', async () => {
    const { client } = await streamableClient(url);
    const seen: string[] = [];
    await client.callTool({ name: 'echo_status', arguments: { name: 'p' } }, undefined, {
      onprogress: (p) => seen.push(p.message ?? ''),
    });
    expect(seen).toEqual(['starting', 'half way', 'done']);
    await client.close();
  });

  it('legacy SSE: lists and calls a tool', async () => {
    const { client } = await sseClient(url);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('echo_status');
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'sse', count: 2 } })) as CallToolResult;
    expect(r.structuredContent).toEqual({ greeting: 'hello sse, hello sse', count: 2 });
    const bad = (await client.callTool({ name: 'echo_status', arguments: { name: 'sse', count: 9 } })) as CallToolResult;
    expect(bad.isError).toBe(true);
    await client.close();
  });

  it('two concurrent sessions work independently (one server per session)', async () => {
    const a = await streamableClient(url, AUTH, 'client-a');
    const b = await streamableClient(url, AUTH, 'client-b');
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    expect(running.http.sessions.has(a.transport.sessionId!)).toBe(true);
    expect(running.http.sessions.has(b.transport.sessionId!)).toBe(true);
    const [ra, rb] = (await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? b : a).client.callTool({ name: 'echo_status', arguments: { name: `n${i}` } }),
      ),
    )) as CallToolResult[];
    expect(ra!.structuredContent).toEqual({ greeting: 'hello n0', count: 1 });
    expect(rb!.structuredContent).toEqual({ greeting: 'hello n1', count: 1 });
    // Closing A does not disturb B.
    await a.transport.terminateSession();
    await a.client.close();
    expect(running.http.sessions.has(b.transport.sessionId!)).toBe(true);
    const r = (await b.client.callTool({ name: 'echo_status', arguments: { name: 'still' } })) as CallToolResult;
    expect(r.structuredContent).toMatchObject({ greeting: 'hello still' });
    await b.client.close();
  });

  it('no token → 401 with WWW-Authenticate', async () => {
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: mcpHeaders, body: initBody });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="loop-ops-mcp"');
    const sse = await fetch(`${url}/sse`);
    expect(sse.status).toBe(401);
    const msg = await fetch(`${url}/messages?sessionId=x`, { method: 'POST', headers: mcpHeaders, body: '{}' });
    expect(msg.status).toBe(401);
  });

  it('wrong token → 401 invalid_token; the SDK client fails to connect', async () => {
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, Authorization: 'Bearer nope' },
      body: initBody,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="loop-ops-mcp", error="invalid_token"/);
    await expect(streamableClient(url, { Authorization: `Bearer ${API_TOKEN}x` })).rejects.toThrow();
  });

  it('a session cannot be used with another token', async () => {
    const { client, transport } = await streamableClient(url);
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, Authorization: 'Bearer wrong', 'Mcp-Session-Id': transport.sessionId! },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    await client.close();
  });

  it('unknown session → 404; no session and not initialize → 400', async () => {
    const unknown = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, ...AUTH, 'Mcp-Session-Id': '00000000-0000-0000-0000-000000000000' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(unknown.status).toBe(404);
    const noSession = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, ...AUTH },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(noSession.status).toBe(400);
  });

  it('wrong Host header → 403; allowed host with or without port passes', async () => {
    const port = new URL(url).port;
    const evil = await raw(url, { path: '/mcp', method: 'POST', headers: { ...mcpHeaders, ...AUTH, Host: 'evil.example' }, body: initBody });
    expect(evil.status).toBe(403);
    const evilPort = await raw(url, { path: '/sse', headers: { ...AUTH, Host: `evil.example:${port}` } });
    expect(evilPort.status).toBe(403);
    const ok = await raw(url, { path: '/.well-known/oauth-protected-resource', headers: { Host: `localhost:${port}` } });
    expect(ok.status).toBe(404); // passed the Host check
    const okNoPort = await raw(url, { path: '/.well-known/oauth-protected-resource', headers: { Host: 'localhost' } });
    expect(okNoPort.status).toBe(404);
  });

  it('/healthz → 200 without auth, nothing about the NAS but a boolean', async () => {
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, nasReachable: true });
  });

  it('/.well-known/oauth-* → 404', async () => {
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-authorization-server']) {
      const res = await fetch(`${url}${p}`);
      expect(res.status, p).toBe(404);
    }
  });

  it('body over maxBodyBytes → 413', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(10_000) } });
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, ...AUTH }, body: big });
    expect(res.status).toBe(413);
    const sse = await fetch(`${url}/messages?sessionId=x`, { method: 'POST', headers: { ...mcpHeaders, ...AUTH }, body: big });
    expect(sse.status).toBe(413);
  });

  it('invalid JSON → 400 parse error; unknown route → 404', async () => {
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, ...AUTH }, body: '{nope' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32700);
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
  });
});

describe('HTTP server: limits, expiry, auth setup, shutdown', () => {
  const toClose: RunningHttp[] = [];
  afterEach(async () => {
    await Promise.all(toClose.splice(0).map((r) => r.shutdown()));
  });

  it('idle sessions expire (sweep) and then answer 404', async () => {
    const config = testConfig();
    config.server.sessionIdleTimeoutMs = 50; // below the schema's minimum, for the test
    const running = await startHttp(testDeps({ config }));
    toClose.push(running);
    const { client, transport } = await streamableClient(running.url);
    const sid = transport.sessionId!;
    await new Promise((r) => setTimeout(r, 120));
    expect(await running.http.sessions.sweep()).toEqual([sid]);
    const res = await fetch(`${running.url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, ...AUTH, 'Mcp-Session-Id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(res.status).toBe(404);
    await client.close().catch(() => {});
  });

  it('refuses to start without a token unless --no-auth on loopback', () => {
    const noToken = { sudoPassword: SUDO_PASSWORD };
    expect(() => createHttpApp(testDeps({ secrets: noToken }))).toThrow(StartupError);
    expect(() => createHttpApp(testDeps({ secrets: noToken }))).toThrow(/no API token configured/);
    const wide = testDeps({ secrets: noToken, config: testConfig({ server: { host: '0.0.0.0' } }) });
    expect(() => createHttpApp(wide, { noAuth: true })).toThrow(/only allowed on a loopback/);
  });

  it('--no-auth on loopback serves anonymously, with a loud warning', async () => {
    const deps = testDeps({ secrets: { sudoPassword: SUDO_PASSWORD } });
    const running = await startHttp(deps, { noAuth: true });
    toClose.push(running);
    expect(deps.logLines.some((l) => l.includes('AUTHENTICATION DISABLED'))).toBe(true);
    const { client } = await streamableClient(running.url, {});
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'anon' } })) as CallToolResult;
    expect(textOf(r)).toMatch(/caller anonymous/);
    await client.close();
  });

  it('graceful shutdown: waits for calls in flight up to the bound, aborts them, closes sessions, then deps.close()', async () => {
    const deps = testDeps();
    const running = await startHttp(deps, { drainTimeoutMs: 200 });
    const s = await streamableClient(running.url);
    const e = await sseClient(running.url);
    const slow = s.client.callTool({ name: 'slow_op', arguments: {} }) as Promise<CallToolResult>;
    // A call that finishes within the bound completes normally.
    const quick = e.client.callTool({ name: 'slow_op', arguments: {} }) as Promise<CallToolResult>;
    while (running.http.core.guard.calls.size < 2) await new Promise((r) => setTimeout(r, 5));
    const done = running.shutdown();
    await new Promise((r) => setTimeout(r, 20));
    deps.services.release?.(); // releases the most recent slow_op only
    await done;
    const results = await Promise.all([slow, quick]);
    const texts = results.map(textOf).sort();
    expect(texts[0]).toBe('finished');
    expect(texts[1]).toMatch(/slow_op was cancelled: the server is shutting down/);
    expect(running.http.sessions.size).toBe(0);
    expect(deps.closed()).toBe(1);
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    await s.client.close().catch(() => {});
    await e.client.close().catch(() => {});
  });
});

/**
 * The read tools against the sandbox NAS over every transport a client uses:
 * Streamable HTTP and legacy SSE (SDK clients, bearer token) and stdio (the
 * CLI spawned as a child process).
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, SANDBOX_CONFIG } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { startSandboxServer, TEST_TOKEN } from '../helpers/server.js';

const sandbox = getSandbox();
const AUTH = { Authorization: `Bearer ${TEST_TOKEN}` };
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

type Maker = () => Promise<Client>;

/** `statusArgs`: which app status shows (the stdio server runs on the targets file, where no arguments summarise every app). */
function checksFor(name: string, make: Maker, statusArgs: Record<string, string> = {}) {
  describe(`${name} transport`, () => {
    let client: Client;
    beforeAll(async () => {
      client = await make();
    });
    afterAll(async () => {
      await client?.close();
    });

    it('status shows the live color with both colors, the sibling and the lock', async () => {
      const r = (await client.callTool({ name: 'status', arguments: statusArgs })) as CallToolResult;
      expect(r.isError ?? false).toBe(false);
      const st = r.structuredContent as Record<string, any>;
      expect(['blue', 'green']).toContain(st.liveColor);
      expect(st.colors[st.liveColor]).toMatchObject({ state: 'running', color: st.liveColor });
      expect(st.siblings.map((s: { name: string }) => s.name)).toContain('loop-auth');
      expect(st.lock).toMatchObject({ held: false });
      expect(textOf(r)).toContain(`live color ${st.liveColor}`);
    });

    it('logs returns the newest lines of the live container', async () => {
      const r = (await client.callTool({ name: 'logs', arguments: { lines: 5 } })) as CallToolResult;
      expect(r.isError ?? false).toBe(false);
      const out = r.structuredContent as { container: string; lines: unknown[]; returnedLines: number };
      expect(out.container).toMatch(/^loop-api-(blue|green)$/);
      expect(out.returnedLines).toBeGreaterThan(0);
      expect(out.returnedLines).toBeLessThanOrEqual(5);
    });

    it('health checks the front and the live color through the NAS', async () => {
      const r = (await client.callTool({ name: 'health', arguments: {} })) as CallToolResult;
      const h = r.structuredContent as { healthy: boolean; checks: Array<{ target: string; ok: boolean; status: number; body: string }> };
      expect(h.healthy).toBe(true);
      const front = h.checks.find((c) => c.target === 'front (nginx)');
      expect(front).toMatchObject({ ok: true, status: 200 });
      expect(front!.body).toContain('"status":"ok"');
    });

    it('bad input is refused with a clear message', async () => {
      const r = (await client.callTool({ name: 'logs', arguments: { container: 'x; reboot' } })) as CallToolResult;
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/container/);
    });
  });
}

describe.skipIf(!sandbox)(`read tools on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let server: Awaited<ReturnType<typeof startSandboxServer>>;
  beforeAll(async () => {
    server = await startSandboxServer();
  });
  afterAll(async () => {
    await server?.shutdown();
  });

  checksFor('Streamable HTTP', async () => {
    const c = new Client({ name: 'it-http', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: AUTH } }));
    return c;
  });

  checksFor('legacy SSE', async () => {
    const c = new Client({ name: 'it-sse', version: '1' });
    await c.connect(new SSEClientTransport(new URL(`${server.url}/sse`), { requestInit: { headers: AUTH } }));
    return c;
  });

  checksFor('stdio', async () => {
    const c = new Client({ name: 'it-stdio', version: '1' });
    await c.connect(
      new StdioClientTransport({
        command: join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
        args: [join(REPO_ROOT, 'src', 'cli.ts'), 'stdio', '--config', SANDBOX_CONFIG],
        cwd: REPO_ROOT,
        env: { ...getDefaultEnvironment(), LOOP_OPS_LOG_FORMAT: 'json' },
        stderr: 'ignore',
      }),
    );
    return c;
  }, { target: 'prod', app: 'loop-api' });

  it('/healthz says the NAS is reachable, without auth', async () => {
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, nasReachable: true });
  });

  it('refuses MCP without the token', async () => {
    const res = await fetch(`${server.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});

/**
 * Webhooks, metrics and resources against the sandbox NAS: a real deploy and
 * a real rollback through MCP, under continuous load through the front, each
 * post exactly one notification to a receiver on loopback; /metrics counts
 * them with their phases; the resources read the real NAS.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { startLoad } from '../helpers/load.js';
import { waitFor } from '../helpers/nas.js';
import { commitToOrigin, getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { startSandboxServer, TEST_TOKEN } from '../helpers/server.js';

const sandbox = getSandbox();
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
const HOOK_PATH = '/hooks/loop-ops-7Qm2xZ9pL4';

function fastDeploy(c: Config): void {
  c.deploy.healthAttempts = 16; // the failing version below fails the gate in ~4 s
  c.deploy.healthIntervalMs = 250;
  c.deploy.verifySeconds = 1;
  c.deploy.verifyIntervalMs = 250;
  c.deploy.toolWaitSeconds = 180;
  c.notify.webhooks = [{ format: 'json' }];
  c.notify.backoffMs = 100;
}

interface Notice {
  operationId: string;
  kind: string;
  outcome: string;
  fromColor: string | null;
  toColor: string | null;
  fromVersion: string | null;
  toVersion: string | null;
  who: string;
  durationMs: number;
  summary: string;
}

describe.skipIf(!sandbox)(`webhooks, metrics and resources on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  const received: Array<{ path: string; body: Notice }> = [];
  let receiver: Server;
  let server: Awaited<ReturnType<typeof startSandboxServer>>;
  let client: Client;
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args }, undefined, { timeout: 300_000 })) as CallToolResult;
  const readText = async (uri: string) => {
    const c = (await client.readResource({ uri })).contents[0] as { text?: string } | undefined;
    return String(c?.text ?? '');
  };
  const metrics = async () => (await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${TEST_TOKEN}` } })).text();
  const value = (text: string, line: string) => {
    const l = text.split('\n').find((x) => x.startsWith(`${line} `));
    return l === undefined ? undefined : Number(l.slice(line.length + 1));
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(body) as Notice });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${HOOK_PATH}`;
    resetSandbox(sandbox!, sandbox!.lane);
    server = await startSandboxServer(fastDeploy, { webhookUrls: [hookUrl] });
    client = new Client({ name: 'it-observability', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  });

  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    receiver?.closeAllConnections();
    await new Promise((r) => receiver?.close(r));
    resetSandbox(sandbox!, sandbox!.lane);
  });

  it('a deploy and a rollback under load each post one notification with target, app, versions, duration and who', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.1.0' }, 'v1.1.0');
    const load = startLoad(sandbox!.frontUrl);
    const d = await call('deploy_blue_green', {});
    expect(d.isError ?? false, textOf(d)).toBe(false);
    await waitFor(() => received.length, (n) => n >= 1, 15_000);
    const r = await call('rollback');
    expect(r.isError ?? false, textOf(r)).toBe(false);
    await waitFor(() => received.length, (n) => n >= 2, 15_000);
    const report = await load.stop('deploy + rollback with webhooks');
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);

    // Nothing more arrives: exactly one notice per operation.
    await new Promise((res) => setTimeout(res, 500));
    expect(received.map((x) => `${x.body.kind}:${x.body.outcome}`)).toEqual(['deploy:succeeded', 'rollback:succeeded']);
    const [dep, rb] = received.map((x) => x.body);
    expect(received.every((x) => x.path === HOOK_PATH)).toBe(true);
    const who = expect.stringMatching(/^token:[0-9a-f]{12}$/);
    expect(dep).toMatchObject({ app: 'loop-api', target: 'default', host: sandbox!.ssh.host, fromColor: 'blue', toColor: 'green', fromVersion: '1.0.0', toVersion: '1.1.0', who });
    expect(rb).toMatchObject({ fromColor: 'green', toColor: 'blue', fromVersion: '1.1.0', toVersion: '1.0.0', who });
    expect(dep!.durationMs).toBeGreaterThan(0);
    expect(dep!.operationId).toBe((d.structuredContent as { jobId: string }).jobId);
    console.info(`notices: ${dep!.summary} | ${rb!.summary}`);
  });

  it('a deploy whose version fails its health gate posts one "failed" notice with the reason', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.2.0', MODE: 'fail' }, 'broken health');
    const d = await call('deploy_blue_green', {});
    expect(d.isError).toBe(true);
    await waitFor(() => received.length, (n) => n >= 3, 15_000);
    expect(received).toHaveLength(3);
    expect(received[2]!.body).toMatchObject({ kind: 'deploy', outcome: 'failed', fromColor: 'blue', toColor: 'green', fromVersion: '1.0.0', toVersion: '1.2.0' });
    expect((received[2]!.body as unknown as { message: string }).message).toMatch(/did not become healthy/);
    console.info(`notice: ${received[2]!.body.summary}`);
  });

  it('/metrics counts those operations, their phases, the tool calls and the SSH pool', async () => {
    const t = await metrics();
    expect(value(t, 'loop_ops_operations_total{kind="deploy",outcome="failed"}')).toBe(1);
    expect(value(t, 'loop_ops_tool_calls_total{tool="deploy_blue_green",outcome="error"}')).toBe(1);
    expect(value(t, 'loop_ops_operations_total{kind="deploy",outcome="succeeded"}')).toBe(1);
    expect(value(t, 'loop_ops_operations_total{kind="rollback",outcome="succeeded"}')).toBe(1);
    expect(value(t, 'loop_ops_operations_running{kind="deploy"}')).toBe(0);
    for (const [phase, n] of [['build', 2], ['health', 2], ['switch', 1], ['verify', 1]] as const) {
      expect(value(t, `loop_ops_operation_phase_duration_seconds_count{kind="deploy",phase="${phase}"}`), phase).toBe(n);
    }
    expect(value(t, 'loop_ops_tool_calls_total{tool="deploy_blue_green",outcome="ok"}')).toBe(1);
    expect(value(t, 'loop_ops_ssh_connections{state="ready"}')).toBeGreaterThanOrEqual(1);
    expect(value(t, 'loop_ops_jobs_running')).toBe(0);
    expect(t).toContain('process_resident_memory_bytes');
  });

  it('resources read the real NAS: status, the history with both operations, a long log tail; status links to the history', async () => {
    const status = await readText('loop-ops://status');
    expect(status).toMatch(/^Status of loop-api \(live color blue\)/);
    const history = await readText('loop-ops://history');
    expect(history).toContain('not instructions');
    const recs = JSON.parse(history.slice(history.indexOf('['), history.lastIndexOf(']') + 1)) as Array<{ kind: string; outcome: string }>;
    expect(recs.slice(0, 3).map((x) => `${x.kind}:${x.outcome}`)).toEqual(['deploy:failed', 'rollback:succeeded', 'deploy:succeeded']);
    const logs = await readText('loop-ops://logs/blue');
    expect(logs).toMatch(/^loop-api-blue: newest \d+ line\(s\)/);
    const st = await call('status');
    expect(st.content).toContainEqual(expect.objectContaining({ type: 'resource_link', uri: 'loop-ops://history' }));
    const audit = await readText('loop-ops://audit');
    expect(audit).toContain('"tool": "resource:logs"');
  });
});

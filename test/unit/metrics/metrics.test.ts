/**
 * Metrics: one registry per server instance, tool calls and operations
 * counted, phase durations from operation events, SSH pool and jobs read at
 * scrape time, and GET /metrics behind the bearer token with the read scope.
 */
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { ServerMetrics } from '../../../src/metrics/index.js';
import { metricsHandler } from '../../../src/metrics/http.js';
import { OperationEventHub } from '../../../src/ops/events.js';
import { startHttp } from '../../../src/server.js';
import { API_TOKEN, memoryLogger, testConfig, testDeps } from '../server/fixtures.js';

const poolStats = { connections: 2, readyConnections: 1, activeChannels: 5, waiting: 3, connectsOpened: 7, channelRetries: 1 };

function value(text: string, line: string): number | undefined {
  const l = text.split('\n').find((x) => x.startsWith(line + ' '));
  return l === undefined ? undefined : Number(l.slice(line.length + 1));
}

describe('ServerMetrics', () => {
  it('keeps each instance in its own registry (no global default registry)', async () => {
    const a = new ServerMetrics({}, { processMetrics: false });
    const b = new ServerMetrics({}, { processMetrics: false });
    a.observeToolCall('status', 'ok', 12);
    expect(value(await a.render(), 'loop_ops_tool_calls_total{tool="status",outcome="ok"}')).toBe(1);
    expect(value(await b.render(), 'loop_ops_tool_calls_total{tool="status",outcome="ok"}')).toBeUndefined();
    a.close();
    b.close();
  });

  it('counts tool calls by tool and outcome, with a latency histogram', async () => {
    const m = new ServerMetrics({}, { processMetrics: false });
    m.observeToolCall('logs', 'ok', 40);
    m.observeToolCall('logs', 'ok', 400);
    m.observeToolCall('deploy_blue_green', 'denied', 1);
    const t = await m.render();
    expect(value(t, 'loop_ops_tool_calls_total{tool="logs",outcome="ok"}')).toBe(2);
    expect(value(t, 'loop_ops_tool_calls_total{tool="deploy_blue_green",outcome="denied"}')).toBe(1);
    expect(value(t, 'loop_ops_tool_call_duration_seconds_count{tool="logs",outcome="ok"}')).toBe(2);
    expect(value(t, 'loop_ops_tool_call_duration_seconds_bucket{le="0.05",tool="logs",outcome="ok"}')).toBe(1);
    m.close();
  });

  it('operations by kind and outcome, running gauge, and each phase timed from the events', async () => {
    let clock = 0;
    const hub = new OperationEventHub();
    const m = new ServerMetrics({ operations: hub }, { processMetrics: false }, () => clock);
    const base = { operationId: 'deploy-1', kind: 'deploy' };
    hub.started({ ...base, app: 'loop-api', target: 'nas', who: 'x', startedAt: '', detail: {} });
    expect(value(await m.render(), 'loop_ops_operations_running{kind="deploy"}')).toBe(1);
    for (const [phase, at] of [['locked', 0], ['build', 1_000], ['switch', 7_000], ['verify', 7_250]] as const) {
      clock = at;
      hub.phase({ ...base, phase, at: '' });
    }
    clock = 12_250;
    hub.finished({
      ...base, app: 'loop-api', target: 'nas', who: 'x', outcome: 'succeeded', fromColor: 'blue', toColor: 'green',
      version: '1', image: null, commit: null, message: null, startedAt: '', endedAt: '', durationMs: 12_250,
    });
    const t = await m.render();
    expect(value(t, 'loop_ops_operations_total{kind="deploy",outcome="succeeded"}')).toBe(1);
    expect(value(t, 'loop_ops_operations_running{kind="deploy"}')).toBe(0);
    expect(value(t, 'loop_ops_operation_duration_seconds_sum{kind="deploy",outcome="succeeded"}')).toBe(12.25);
    expect(value(t, 'loop_ops_operation_phase_duration_seconds_sum{kind="deploy",phase="build"}')).toBe(6);
    expect(value(t, 'loop_ops_operation_phase_duration_seconds_sum{kind="deploy",phase="switch"}')).toBe(0.25);
    expect(value(t, 'loop_ops_operation_phase_duration_seconds_sum{kind="deploy",phase="verify"}')).toBe(5);
    m.close();
    expect(hub.size).toBe(0);
  });

  it('reads the SSH pool and the jobs when scraped; process metrics when asked', async () => {
    const m = new ServerMetrics({ poolStats: () => poolStats, jobsRunning: () => 2 }, { processMetrics: true });
    const t = await m.render();
    expect(value(t, 'loop_ops_ssh_connections{state="all"}')).toBe(2);
    expect(value(t, 'loop_ops_ssh_connections{state="ready"}')).toBe(1);
    expect(value(t, 'loop_ops_ssh_channels_active')).toBe(5);
    expect(value(t, 'loop_ops_ssh_channel_queue')).toBe(3);
    expect(value(t, 'loop_ops_ssh_connects_total')).toBe(7);
    expect(value(t, 'loop_ops_jobs_running')).toBe(2);
    expect(t).toContain('process_resident_memory_bytes');
    expect(t).toContain('nodejs_eventloop_lag_seconds');
    m.close();
  });
});

describe('GET /metrics', () => {
  it('needs the bearer token; with it, shows the tool calls made over MCP', async () => {
    const deps = testDeps({ config: testConfig() });
    deps.observe = { poolStats: () => poolStats };
    const running = await startHttp(deps);
    try {
      expect((await fetch(`${running.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${running.url}/metrics`, { headers: { Authorization: 'Bearer wrong-token-0000000000' } })).status).toBe(401);
      const client = new Client({ name: 'unit', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${API_TOKEN}` } } }));
      await client.callTool({ name: 'echo_status', arguments: { name: 'x' } });
      await client.callTool({ name: 'locked_op', arguments: {} });
      await client.close();
      const res = await fetch(`${running.url}/metrics`, { headers: { Authorization: `Bearer ${API_TOKEN}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const t = await res.text();
      expect(value(t, 'loop_ops_tool_calls_total{tool="echo_status",outcome="ok"}')).toBe(1);
      expect(value(t, 'loop_ops_tool_calls_total{tool="locked_op",outcome="error"}')).toBe(1);
      expect(value(t, 'loop_ops_ssh_channels_active')).toBe(5);
    } finally {
      await running.shutdown();
    }
  });

  it('is absent when metrics.enabled is false', async () => {
    const config = testConfig();
    config.metrics.enabled = false;
    const running = await startHttp(testDeps({ config }));
    try {
      expect((await fetch(`${running.url}/metrics`, { headers: { Authorization: `Bearer ${API_TOKEN}` } })).status).toBe(404);
    } finally {
      await running.shutdown();
    }
  });

  it('refuses a caller without the read scope', async () => {
    const m = new ServerMetrics({}, { processMetrics: false });
    const app = express();
    app.use((req, _res, next) => {
      (req as unknown as { auth: unknown }).auth = { token: 't', clientId: 'oauth:x', scopes: ['ops:write'] };
      next();
    });
    app.get('/metrics', metricsHandler(m, memoryLogger().log));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
      expect(res.status).toBe(403);
    } finally {
      server.close();
      m.close();
    }
  });
});

/**
 * The performance targets as ratios against floors measured in the same run,
 * because these machines are noisy and only ratios compare across runs:
 *
 *   status over MCP                    vs an MCP ping on the same session
 *   200 concurrent status (10 × 20)    vs the same burst of 200 pings
 *   rollback to the running color      vs a bare nginx reload + one request through the front
 *   healthy → switched (deploy phase)  vs a bare nginx reload
 *
 * The server runs in this process (tools, guard, SSH pool) against the sandbox
 * NAS; the client is the SDK over Streamable HTTP on loopback. Resets the
 * sandbox before and after. Run: npm run bench:ratios
 * Env: BENCH_N (default 200), BENCH_ROLLBACKS (default 6), BENCH_RELOADS (default 10), BENCH_DEPLOYS (default 3),
 * BENCH_STATUS_BEFORE (default 1: the status rows also with the status snapshot off).
 */
import { execFileSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startSandboxServer, TEST_TOKEN } from '../test/helpers/server.js';
import { stats, timed, type Stats } from './stats.js';

const N = Number(process.env.BENCH_N ?? 200);
const ROLLBACKS = Number(process.env.BENCH_ROLLBACKS ?? 6);
const RELOADS = Number(process.env.BENCH_RELOADS ?? 10);
/** Deploys whose `switch` phase is measured (one phase a deploy: a single one is too noisy). */
const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 3);
/** Also measure the status rows with the status snapshot off, in the same run (the "before"). */
const STATUS_BEFORE = process.env.BENCH_STATUS_BEFORE !== '0';

const sandbox = (...args: string[]) => execFileSync('bash', ['scripts/sandbox.sh', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();


/** 10 sessions × 20 calls, all at once: the latency of each call. */
async function burst(sessions: Client[], fn: (c: Client) => Promise<unknown>): Promise<Stats> {
  const lat: number[] = [];
  await Promise.all(
    sessions.map((c) =>
      Promise.all(
        Array.from({ length: 20 }, async () => {
          const t = performance.now();
          await fn(c);
          lat.push(performance.now() - t);
        }),
      ),
    ),
  );
  return stats(lat);
}

async function main() {
  sandbox('reset');
  const server = await startSandboxServer((c) => {
    c.deploy.healthIntervalMs = 500;
    c.deploy.healthAttempts = 60;
    c.deploy.verifySeconds = 1; // the deploys only set the scene: their verify window is not measured here
    c.deploy.toolWaitSeconds = 600;
    // Bursts of 200 calls from one client are the point here, not abuse:
    // lift the per-principal limit and the connection cap (each concurrent call is a connection).
    c.server.rateLimitPerMinute = 1_000_000;
    c.server.maxConnections = 10_000;
  });
  const connect = async () => {
    const c = new Client({ name: 'bench-ratios', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
    return c;
  };
  const client = await connect();
  const call = async (c: Client, name: string, args: Record<string, unknown> = {}) => {
    const r = (await c.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as CallToolResult;
    if (r.isError) throw new Error(JSON.stringify(r.content).slice(0, 500));
    return r.structuredContent as { result?: Record<string, any> };
  };
  const { services } = server.deps;
  const config = services.config;
  const frontUrl = `http://127.0.0.1:${config.app.frontPort}${config.app.healthPath}`;
  const rows: string[] = ['| path | floor | floor median ms | path median ms | ratio | target |', '|---|---|---:|---:|---:|---:|'];
  const row = (path: string, floorName: string, floor: Stats, s: Stats, target: number) =>
    rows.push(`| ${path} | ${floorName} | ${floor.median.toFixed(2)} | ${s.median.toFixed(2)} | ${(s.median / floor.median).toFixed(2)}× | ≤ ${target}× ${s.median / floor.median <= target ? '(met)' : '(not met)'} |`);
  try {
    // 1. status vs ping, one session. With BENCH_STATUS_BEFORE=1 (default) the status rows are also
    // measured with the status snapshot off (server.statusSnapshotMs 0: every call reads the NAS), in this run.
    const reads = services.reads;
    const snapshotMs = reads.ttlMs;
    const withoutSnapshot = async <T>(fn: () => Promise<T>): Promise<T> => {
      reads.ttlMs = 0;
      try {
        return await fn();
      } finally {
        reads.ttlMs = snapshotMs;
      }
    };
    // Interleaved (ping, status before, status after, ping, …): the machine's noise hits the floor and the paths alike.
    const lat = { ping: [] as number[], before: [] as number[], after: [] as number[] };
    const clock = async (into: number[], fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      into.push(performance.now() - t);
    };
    for (let i = 0; i < N + 3; i++) {
      await clock(lat.ping, () => client.ping());
      if (STATUS_BEFORE) await clock(lat.before, () => withoutSnapshot(() => call(client, 'status')));
      await clock(lat.after, () => call(client, 'status'));
    }
    const warm = (xs: number[]) => stats(xs.slice(3));
    const ping = warm(lat.ping);
    if (STATUS_BEFORE) row('`status` over MCP, snapshot off (before)', 'MCP ping', ping, warm(lat.before), 3);
    const status = warm(lat.after);
    row(`\`status\` over MCP${snapshotMs ? `, snapshot ${snapshotMs} ms` : ''}`, 'MCP ping', ping, status, 3);

    // 2. The same burst of 200, pings then status.
    const sessions = await Promise.all(Array.from({ length: 10 }, connect));
    await burst(sessions, (c) => c.ping()); // warm-up
    const pingBurst = await burst(sessions, (c) => c.ping());
    if (STATUS_BEFORE) {
      const before = await withoutSnapshot(() => burst(sessions, (c) => call(c, 'status')));
      row('200 concurrent `status` (10 sessions × 20), snapshot off (before)', 'the same burst of pings', pingBurst, before, 2);
    }
    const statusBurst = await burst(sessions, (c) => call(c, 'status'));
    row(`200 concurrent \`status\` (10 sessions × 20)${snapshotMs ? `, snapshot ${snapshotMs} ms` : ''}`, 'the same burst of pings', pingBurst, statusBurst, 2);
    console.log(`status answers: ${JSON.stringify(reads.counts)} (from the snapshot, joined in flight, read of their own)`);

    // 3. Floors on the NAS: a bare reload, and a bare reload + one request through the front.
    const reload = () => services.pool.exec(config.nginx.reloadCommand, { sudo: config.nginx.useSudo });
    const bareReload = await timed(RELOADS, reload, 1);
    const reloadAndRequest = await timed(
      RELOADS,
      async () => {
        await reload();
        const r = await fetch(frontUrl);
        await r.arrayBuffer();
      },
      1,
    );

    // 4. Deploys (so a previous color runs), each one's healthy → switched phase, then rollbacks.
    const switchMs: number[] = [];
    for (let i = 0; i < DEPLOYS; i++) {
      sandbox('commit', '-m', `bench ratios ${i}`, `VERSION=6.0.${i}`);
      const dep = await call(client, 'deploy_blue_green');
      switchMs.push(Number((dep.result?.timingsMs as Record<string, number> | undefined)?.switch));
    }
    const switched = stats(switchMs);
    const rollback = await timed(ROLLBACKS, () => call(client, 'rollback'), 0);
    row('rollback to the running previous color, through MCP', 'bare nginx reload + 1 request', reloadAndRequest, rollback, 6);
    row(`healthy → switched (deploy phase \`switch\`, median of ${DEPLOYS} deploys)`, 'bare nginx reload', bareReload, switched, 3);

    console.log(`floors: MCP ping median ${ping.median.toFixed(2)} ms (p95 ${ping.p95.toFixed(2)}); burst of 200 pings median ${pingBurst.median.toFixed(1)} ms; ` +
      `bare reload ${bareReload.median.toFixed(1)} ms; bare reload + request ${reloadAndRequest.median.toFixed(1)} ms`);
    console.log(`deploy phase switch (ms): ${switchMs.map((x) => x.toFixed(0)).join(', ')}; rollbacks: median ${rollback.median.toFixed(1)}, min ${rollback.min.toFixed(1)}, max ${rollback.max.toFixed(1)}`);
    console.log(rows.join('\n'));
    await Promise.all(sessions.map((c) => c.close()));
  } finally {
    await client.close();
    await server.shutdown();
    sandbox('reset');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

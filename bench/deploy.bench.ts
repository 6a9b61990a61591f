/**
 * Blue-green on the sandbox NAS through MCP (Streamable HTTP, SDK client):
 * the phase timings of real deploys (source, build, start, health gate,
 * switch, verify) and rollback end to end, beside the old slash command's
 * ~30 s rollback (a rebuild; measured by the owner, not here).
 *
 * Health gate interval 500 ms and a 5 s verify window here (the product's
 * defaults are 10 s and 30 s: a fixed wait by design, not work to measure).
 * Resets the sandbox before and after. Run: npm run bench:deploy
 * Also the zero-downtime restart (idle color recreated from the live spec,
 * gated, switched, verified, old color recycled).
 * Env: BENCH_DEPLOYS (default 3), BENCH_ROLLBACKS (default 6), BENCH_RESTARTS (default 3), BENCH_ROLLBACKS_TO (default 3).
 */
import { execFileSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startSandboxServer, TEST_TOKEN } from '../test/helpers/server.js';
import { stats } from './stats.js';

const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 3);
const ROLLBACKS = Number(process.env.BENCH_ROLLBACKS ?? 6);
const ROLLBACKS_TO = Number(process.env.BENCH_ROLLBACKS_TO ?? 3);
const RESTARTS = Number(process.env.BENCH_RESTARTS ?? 3);
const SEED_ROLLBACK_MS = 30_000;

const sandbox = (...args: string[]) => execFileSync('bash', ['scripts/sandbox.sh', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

async function main() {
  sandbox('reset');
  const server = await startSandboxServer((c) => {
    c.deploy.healthIntervalMs = 500;
    c.deploy.healthAttempts = 60;
    c.deploy.verifySeconds = 5;
    c.deploy.toolWaitSeconds = 600;
  });
  const client = new Client({ name: 'bench-deploy', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as CallToolResult;
    if (r.isError) throw new Error(JSON.stringify(r.content).slice(0, 500));
    return r.structuredContent as { result: Record<string, any> };
  };
  try {
    const phases: Record<string, number[]> = {};
    const totals: number[] = [];
    const deployIds: string[] = [];
    for (let i = 0; i < DEPLOYS; i++) {
      sandbox('commit', '-m', `bench ${i}`, `VERSION=5.0.${i}`);
      const t0 = performance.now();
      const r = await call('deploy_blue_green', {});
      totals.push(performance.now() - t0);
      deployIds.push(r.result.operationId as string);
      for (const [k, v] of Object.entries(r.result.timingsMs as Record<string, number>)) (phases[k] ??= []).push(v);
    }
    console.log(`deploy phases, median of ${DEPLOYS} deploys (ms):`);
    console.log('| phase | median ms | min | max |\n|---|---:|---:|---:|');
    for (const [k, v] of Object.entries(phases)) {
      const s = stats(v);
      console.log(`| ${k} | ${s.median.toFixed(0)} | ${s.min.toFixed(0)} | ${s.max.toFixed(0)} |`);
    }
    console.log(`| whole deploy through MCP | ${stats(totals).median.toFixed(0)} | ${stats(totals).min.toFixed(0)} | ${stats(totals).max.toFixed(0)} |`);

    const rb: number[] = [];
    for (let i = 0; i < ROLLBACKS; i++) {
      const t0 = performance.now();
      await call('rollback');
      rb.push(performance.now() - t0);
    }
    const s = stats(rb);
    console.log(`\nrollback to the running previous color, end to end through MCP (n=${ROLLBACKS}): median ${s.median.toFixed(0)} ms, p95 ${s.p95.toFixed(0)} ms; the slash command's rebuild: ~${SEED_ROLLBACK_MS} ms → ${(SEED_ROLLBACK_MS / s.median).toFixed(1)}× faster`);

    // Rollback to a version (a retained image onto the idle color: start, gate, switch, verify), alternating between the oldest two deploys.
    const rbTo: number[] = [];
    for (let i = 0; i < ROLLBACKS_TO && deployIds.length >= 2; i++) {
      const t0 = performance.now();
      await call('rollback', { to: deployIds[i % 2] });
      rbTo.push(performance.now() - t0);
    }
    if (rbTo.length) {
      const t = stats(rbTo);
      console.log(`rollback to a version (retained image, full gate + 5 s verify), end to end through MCP (n=${rbTo.length}): median ${t.median.toFixed(0)} ms, min ${t.min.toFixed(0)}, max ${t.max.toFixed(0)}; the slash command's rebuild: ~${SEED_ROLLBACK_MS} ms`);
    }

    const rs: number[] = [];
    const rsPhases: Record<string, number[]> = {};
    for (let i = 0; i < RESTARTS; i++) {
      const t0 = performance.now();
      const r = await call('restart');
      rs.push(performance.now() - t0);
      for (const [k, v] of Object.entries((r.result.timingsMs ?? {}) as Record<string, number>)) (rsPhases[k] ??= []).push(v);
    }
    if (RESTARTS > 0) {
      const m = stats(rs);
      console.log(`\nzero-downtime restart through the idle color, end to end through MCP (n=${RESTARTS}): median ${m.median.toFixed(0)} ms (min ${m.min.toFixed(0)}, max ${m.max.toFixed(0)})`);
      console.log(`  phases (median ms): ${Object.entries(rsPhases).map(([k, v]) => `${k} ${stats(v).median.toFixed(0)}`).join(', ')}`);
    }
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

/**
 * Where the time of a cut-over goes: the cost of each kind of NAS round trip
 * on its own, then a waterfall (every SSH exec, sudo command, SFTP read and
 * write, probe and Engine API call, with who asked for it) of
 *
 *   - switchUpstream (deploy phase `switch`), n switches blue ↔ green, and
 *   - rollback to the running previous color through MCP, n rollbacks,
 *
 * so each optimisation can be justified by a measurement. The server runs in
 * this process against the sandbox NAS (reset before and after).
 * Run: npm run bench:cutover   Env: BENCH_SWITCHES (default 8), BENCH_ROLLBACKS (default 6).
 */
import { execFileSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startSandboxServer, TEST_TOKEN } from '../test/helpers/server.js';
import { readUpstream, switchUpstream } from '../src/bluegreen/nginx.js';
import { writeFileAtomic, readSmallFiles } from '../src/ssh/files.js';
import { probeFromNas } from '../src/ssh/nas-http.js';
import { stats, timed, type Stats } from './stats.js';
import { Tracer, waterfall, type Span } from './trace.js';

Error.stackTraceLimit = 60;
const SWITCHES = Number(process.env.BENCH_SWITCHES ?? 8);
const ROLLBACKS = Number(process.env.BENCH_ROLLBACKS ?? 6);

const sandbox = (...args: string[]) => execFileSync('bash', ['scripts/sandbox.sh', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();


const f = (n: number) => n.toFixed(1);

/** Per kind and per caller: how many calls and how much wall time on the critical path (overlaps merged). */
function summary(spans: Span[], t0: number, t1: number): string {
  const byKey = new Map<string, { n: number; sum: number }>();
  for (const s of spans) {
    const k = `${s.kind}: ${s.what.replace(/\d{4,}/g, 'N')}`;
    const e = byKey.get(k) ?? { n: 0, sum: 0 };
    e.n++;
    e.sum += s.end - s.start;
    byKey.set(k, e);
  }
  // Wall time covered by at least one span (the rest is our own CPU, MCP, timers).
  const iv = spans.map((s) => [Math.max(s.start, t0), Math.min(s.end, t1)] as const).filter(([a, b]) => b > a).sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let cur: [number, number] | undefined;
  for (const [a, b] of iv) {
    if (!cur || a > cur[1]) {
      if (cur) covered += cur[1] - cur[0];
      cur = [a, b];
    } else cur[1] = Math.max(cur[1], b);
  }
  if (cur) covered += cur[1] - cur[0];
  const rows = [...byKey.entries()].sort((a, b) => b[1].sum - a[1].sum).map(([k, e]) => `| ${k} | ${e.n} | ${f(e.sum)} |`);
  return [
    `total ${f(t1 - t0)} ms; covered by NAS round trips ${f(covered)} ms; not covered (local work, MCP, sleeps) ${f(t1 - t0 - covered)} ms`,
    '| round trip | n | sum ms |',
    '|---|---:|---:|',
    ...rows,
  ].join('\n');
}

async function main() {
  sandbox('reset');
  const server = await startSandboxServer((c) => {
    c.deploy.healthIntervalMs = 500;
    c.deploy.healthAttempts = 60;
    c.deploy.verifySeconds = 5;
    c.deploy.toolWaitSeconds = 600;
  });
  const client = new Client({ name: 'bench-cutover', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = (await client.callTool({ name, arguments: args }, undefined, { timeout: 600_000 })) as CallToolResult;
    if (r.isError) throw new Error(JSON.stringify(r.content).slice(0, 500));
    return r.structuredContent as { result?: Record<string, any> };
  };
  const { services } = server.deps;
  const { pool, config } = services;
  const tracer = new Tracer();
  try {
    // 1. What each kind of round trip costs on its own.
    const stateFile = `${config.state.dir}/bench-cutover.tmp`;
    const prims: Array<[string, Stats]> = [
      ['pooled exec `true`', await timed(20, () => pool.exec(['true']))],
      ['sudo `nginx -t` (password mode: `sudo -S -l`, then `sudo -n`)', await timed(10, () => pool.exec(config.nginx.testCommand, { sudo: true }))],
      ['sudo `nginx -s reload`', await timed(10, () => pool.exec(config.nginx.reloadCommand, { sudo: true }))],
      ['SFTP write (own session) + rename', await timed(20, () => writeFileAtomic(pool, stateFile, 'x\n'))],
      ['SFTP read (shared session)', await timed(20, () => readSmallFiles(pool, [{ path: stateFile, maxBytes: 1024 }]))],
      ['probe through the front (direct-tcpip)', await timed(20, () => probeFromNas(pool, '127.0.0.1', config.app.frontPort, config.app.healthPath, 2000))],
      ['Engine API inspect', await timed(20, () => services.docker.inspect(`${config.app.name}-blue`))],
    ];
    await pool.exec(['rm', '-f', '--', stateFile]);
    console.log('## Round trips on their own\n\n| round trip | n | median ms | p95 ms |\n|---|---:|---:|---:|');
    for (const [k, s] of prims) console.log(`| ${k} | ${s.n} | ${f(s.median)} | ${f(s.p95)} |`);

    // 2. One deploy, so the previous color runs.
    sandbox('commit', '-m', 'bench cutover', 'VERSION=6.0.1');
    const dep = await call('deploy_blue_green');
    console.log(`\ndeploy timings (ms): ${JSON.stringify(dep.result?.timingsMs)}`);

    tracer.wrapPool(pool);
    tracer.wrapDocker(services.docker);

    // 3. switchUpstream on its own, alternating colors.
    const sw: number[] = [];
    const reloadAt: number[] = [];
    const cutAt: number[] = [];
    let swTrace: { spans: Span[]; t0: number; t1: number } | undefined;
    let live = (await readUpstream(pool, config)).info.color!;
    for (let i = 0; i < SWITCHES; i++) {
      const to = live === 'blue' ? 'green' : 'blue';
      tracer.start();
      const t0 = performance.now();
      const r = await switchUpstream(pool, config, to, `bench-sw-${i}`);
      const t1 = performance.now();
      reloadAt.push(r.durationMs);
      if (r.cutoverMs !== undefined) cutAt.push(r.cutoverMs);
      const spans = tracer.stop();
      sw.push(t1 - t0);
      if (i === Math.floor(SWITCHES / 2)) swTrace = { spans, t0, t1 };
      live = to;
    }
    const sws = stats(sw);
    console.log(`\n## switchUpstream: median ${f(sws.median)} ms (min ${f(sws.min)}, max ${f(sws.max)}, n ${sws.n}); ` +
      `start → reload returned median ${f(stats(reloadAt).median)} ms; start → old workers stopped accepting median ${f(stats(cutAt).median)} ms (seen ${cutAt.length}/${sw.length})\n`);
    console.log(waterfall(swTrace!.spans, swTrace!.t0));
    console.log(`\n${summary(swTrace!.spans, swTrace!.t0, swTrace!.t1)}`);

    // 4. Rollback through MCP.
    const rb: number[] = [];
    const traces: Array<{ spans: Span[]; t0: number; t1: number }> = [];
    for (let i = 0; i < ROLLBACKS; i++) {
      tracer.start();
      const t0 = performance.now();
      await call('rollback');
      const t1 = performance.now();
      traces.push({ spans: tracer.stop(), t0, t1 });
      rb.push(t1 - t0);
    }
    const rbs = stats(rb);
    const mid = traces[rb.indexOf(rbs.median)] ?? traces[0]!;
    console.log(`\n## rollback through MCP: median ${f(rbs.median)} ms (min ${f(rbs.min)}, max ${f(rbs.max)}, n ${rbs.n}); waterfall of the median one\n`);
    console.log(waterfall(mid.spans, mid.t0));
    console.log(`\n${summary(mid.spans, mid.t0, mid.t1)}`);
    await client.close();
  } finally {
    await server.shutdown();
    sandbox('reset');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

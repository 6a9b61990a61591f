/**
 * Where one `status` call's time goes, part by part, in one run against the
 * sandbox NAS (server in this process, SDK client over Streamable HTTP on
 * loopback, as bench/ratios.bench.ts):
 *
 *   MCP ping                      the transport floor
 *   a trivial tool over MCP       transport + guard (policy, output check, scrub, audit)
 *   status over MCP               the whole path
 *   the status read, direct       readStatus() without MCP (NAS reads + assembling)
 *   each NAS read alone           container list + inspects, SFTP files, lock stat, backups `ls`, image list
 *   rendering                     statusText, output schema checks
 *
 * The reads run sequentially here; status runs them in parallel, so the
 * direct read costs about the slowest one, not their sum.
 * Run: npx tsx bench/status-breakdown.bench.ts   Env: BENCH_N (default 200),
 * LOOP_OPS_BENCH_NO_SNAPSHOT=1 (status snapshot off: every read goes to the NAS).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { startSandboxServer, TEST_TOKEN } from '../test/helpers/server.js';
import { COLORS, colorContainerName, historyFile, journalFile, LABEL_APP, lockDetailsFile, lockDir, previousStopFile } from '../src/domain/index.js';
import { readSmallFiles, remoteExists } from '../src/ssh/files.js';
import { listBackups } from '../src/bluegreen/operations/oauth-files.js';
import { getStatus, statusText } from '../src/ops/status.js';
import { statusTool } from '../src/tools/status.js';
import { timed, type Stats } from './stats.js';

const N = Number(process.env.BENCH_N ?? 200);
const noSnapshot = process.env.LOOP_OPS_BENCH_NO_SNAPSHOT === '1';


async function main() {
  const server = await startSandboxServer((c) => {
    c.server.rateLimitPerMinute = 1_000_000;
    if (noSnapshot) (c.server as { statusSnapshotMs?: number }).statusSnapshotMs = 0;
  });
  const client = new Client({ name: 'bench-status-breakdown', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    if (r.isError) throw new Error(JSON.stringify(r.content).slice(0, 300));
    return r;
  };
  const s = server.deps.services;
  const { config, pool, docker } = s;
  const app = config.app.name;
  const colorNames = COLORS.map((c) => colorContainerName(app, c));
  const rows: Array<[string, Stats]> = [];
  try {
    await client.listTools(); // the client checks structuredContent against the listed output schemas
    rows.push(['MCP ping', await timed(N, () => client.ping())]);
    rows.push(['`job_status` over MCP (no NAS: transport + guard; answers "no job")', await timed(N, () => client.callTool({ name: 'job_status', arguments: {} }))]);
    rows.push(['`status` over MCP', await timed(N, () => call('status'))]);
    rows.push(['status read, direct (getStatus: every NAS read in parallel + assembling)', await timed(N, () => getStatus(s, { historyLimit: 5 }))]);
    rows.push([
      'Engine API: list + inspect the app containers',
      await timed(N, () => docker.listContainers({ select: (name, labels) => labels[LABEL_APP] === app || colorNames.includes(name) || config.app.watch.includes(name) })),
    ]);
    rows.push(['Engine API: one inspect', await timed(N, () => docker.inspect(colorNames[0]!))]);
    rows.push(['Engine API: list the app images', await timed(N, () => docker.listImages(app))]);
    rows.push([
      'SFTP: read 5 state files (upstream, lock, journal, history tail, previous-stop)',
      await timed(N, () =>
        readSmallFiles(pool, [
          { path: config.nginx.upstreamFile, maxBytes: 64 * 1024 },
          { path: lockDetailsFile(config.state.dir), maxBytes: 64 * 1024 },
          { path: journalFile(config.state.dir), maxBytes: 256 * 1024 },
          { path: historyFile(config.state.dir), maxBytes: 256 * 1024, tail: true },
          { path: previousStopFile(config.state.dir), maxBytes: 16 * 1024 },
        ]),
      ),
    ]);
    rows.push(['SFTP: stat the lock dir', await timed(N, () => remoteExists(pool, lockDir(config.state.dir)))]);
    rows.push(['exec: list the OAuth backups (`ls`, maybe through sudo)', await timed(Math.min(N, 60), () => listBackups(s))]);
    const st = await getStatus(s, { historyLimit: 5 });
    rows.push(['render: statusText', await timed(N, () => statusText(st))]);
    const shape = z.object(statusTool.outputSchema);
    rows.push(['output check: zod parse of the structured status', await timed(N, () => shape.safeParse({ target: s.target, strategy: 'blue-green', ...st }))]);
    console.log(`status snapshot: ${noSnapshot ? 'off' : `on (server.statusSnapshotMs=${(config.server as { statusSnapshotMs?: number }).statusSnapshotMs ?? 'n/a'})`}`);
    console.log('| part | n | median ms | p95 ms |\n|---|---:|---:|---:|');
    for (const [name, x] of rows) console.log(`| ${name} | ${x.n} | ${x.median.toFixed(2)} | ${x.p95.toFixed(2)} |`);
  } finally {
    await client.close();
    await server.shutdown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

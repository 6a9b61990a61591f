/**
 * `status` end to end through MCP Streamable HTTP (SDK client over loopback
 * → our server → SSH pool → sandbox NAS), beside the owner's way; then 10
 * sessions × 20 calls at once; then a leak check: the server's RSS after 100
 * calls and after 10,000.
 *
 * The server runs as its own process (so its RSS is its own), built from src
 * with tsx. Run: npm run bench:mcp   (sandbox up: npm run sandbox -- up)
 * Env: BENCH_N (default 200), BENCH_LEAK_CALLS (default 10000), BENCH_OWNER_N (default 10).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { loadConfig } from '../src/config.js';
import { blueGreenConfig } from '../src/config/targets.js';
import { freePort } from '../test/helpers/ports.js';
import { ownerWay, sample } from './owner.js';
import { stats, table } from './stats.js';

const CONFIG = process.env.LOOP_OPS_CONFIG ?? '.sandbox/config.yaml';
const N = Number(process.env.BENCH_N ?? 200);
const LEAK_CALLS = Number(process.env.BENCH_LEAK_CALLS ?? 10_000);
const OWNER_N = Number(process.env.BENCH_OWNER_N ?? 10);
const TOKEN = `bench-${Math.random().toString(36).slice(2)}-${Date.now()}`;

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function connect(url: string): Promise<Client> {
  const c = new Client({ name: 'bench', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
  return c;
}

async function statusCall(c: Client): Promise<void> {
  const r = await c.callTool({ name: 'status', arguments: {} });
  if (r.isError) throw new Error(JSON.stringify(r.content));
}

async function main() {
  const loaded = loadConfig({ file: CONFIG });
  const config = blueGreenConfig(loaded.config);
  const secrets = loaded.secrets;
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '--config', CONFIG, '--port', String(port)], {
    // The per-IP rate limit (600/min by default) would throttle the leak check: lift it here.
    env: { ...process.env, LOOP_OPS_TOKEN: TOKEN, LOOP_OPS__LOG__LEVEL: 'warn', LOOP_OPS_LOG_FORMAT: 'json', LOOP_OPS__SERVER__RATE_LIMIT_PER_MINUTE: '100000000' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      if (i > 100) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }

    const owner = stats(await sample(OWNER_N, ownerWay(config, secrets), 1));
    const client = await connect(url);
    const single = stats(await sample(N, () => statusCall(client), 5));
    console.log(
      table(
        [
          ["owner's way: sshpass+ssh+sudo docker ps", owner],
          ['MCP status over Streamable HTTP (1 session)', single],
        ],
        owner.median,
        "owner's way",
      ),
    );

    // 10 sessions × 20 calls, all at once.
    const sessions = await Promise.all(Array.from({ length: 10 }, () => connect(url)));
    let errors = 0;
    const lat: number[] = [];
    const t0 = performance.now();
    await Promise.all(
      sessions.map(async (c) => {
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            const t = performance.now();
            try {
              await statusCall(c);
              lat.push(performance.now() - t);
            } catch {
              errors++;
            }
          }),
        );
      }),
    );
    const conc = stats(lat);
    console.log(
      `\n10 sessions × 20 status calls at once: ${errors} errors of 200, median ${conc.median.toFixed(1)} ms, p95 ${conc.p95.toFixed(1)} ms, all done in ${(performance.now() - t0).toFixed(0)} ms`,
    );

    // Leak check: RSS after the first 100 calls, then sampled every 1,000 calls
    // up to LEAK_CALLS (10 sessions in parallel). One sample lands anywhere in
    // V8's GC sawtooth, so the trend is judged on medians of the samples.
    const fresh = await connect(url);
    for (let i = 0; i < 100; i++) await statusCall(fresh);
    await new Promise((r) => setTimeout(r, 1000));
    const rss100 = rssMiB(child.pid!);
    const samples: number[] = [];
    let done = 100;
    while (done < LEAK_CALLS) {
      const per = Math.ceil(Math.min(1000, LEAK_CALLS - done) / sessions.length);
      await Promise.all(sessions.map(async (c) => { for (let i = 0; i < per; i++) await statusCall(c); }));
      done += per * sessions.length;
      samples.push(rssMiB(child.pid!));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const rssN = rssMiB(child.pid!);
    const half = Math.floor(samples.length / 2);
    const early = stats(samples.slice(0, half)).median;
    const late = stats(samples.slice(half)).median;
    const pct = (a: number, b: number) => `${(((b - a) / a) * 100).toFixed(1)}%`;
    console.log(`server RSS after 100 calls: ${rss100.toFixed(1)} MiB; after ${done} calls: ${rssN.toFixed(1)} MiB (${pct(rss100, rssN)})`);
    console.log(
      `RSS sampled every 1,000 calls: min ${Math.min(...samples).toFixed(1)}, max ${Math.max(...samples).toFixed(1)} MiB; median of the first half ${early.toFixed(1)} → second half ${late.toFixed(1)} MiB (${pct(early, late)})`,
    );
    await Promise.all([client, fresh, ...sessions].map((c) => c.close()));
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

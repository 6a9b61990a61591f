/**
 * "List the app's containers" four ways, side by side in one run on the
 * sandbox NAS, plus pooled `exec true` and 50 concurrent list calls:
 *
 *   owner     sshpass + ssh + `echo PW | sudo -S docker ps` per call (today's slash command)
 *   fresh     a new ssh2 connection per call, then sudo docker ps
 *   pooled    sudo docker ps over a pooled connection (CLI per call)
 *   engine    Engine API over a pooled, kept-alive dial-stdio channel (our path)
 *
 * Run: npm run bench            (the sandbox must be up: npm run sandbox -- up)
 * Env: BENCH_N (samples per way, default 30), BENCH_OWNER_N (default 15).
 */
import { loadConfig } from '../src/config.js';
import { blueGreenConfig } from '../src/config/targets.js';
import { createDockerEngine } from '../src/docker/index.js';
import { readFileSync } from 'node:fs';
import { createNasPool, type RootRule } from '../src/ssh/index.js';
import { globLiteral } from '../src/ssh/root-commands.js';
import { ownerWay, sample } from './owner.js';
import { stats, table, type Stats } from './stats.js';

const loaded = loadConfig({ file: process.env.LOOP_OPS_CONFIG ?? '.sandbox/config.yaml' });
const config = blueGreenConfig(loaded.config);
const secrets = loaded.secrets;
const N = Number(process.env.BENCH_N ?? 30);
const OWNER_N = Number(process.env.BENCH_OWNER_N ?? 15);
const psArgv = [config.docker.binary, 'ps', '--filter', `label=loop-ops.app=${config.app.name}`, '--format', '{{.Names}} {{.Status}}'];
const owner = ownerWay(config, secrets);
// `docker ps` is not one of the product's root commands (it lists through the Engine API), so
// the CLI-per-call rows log in as the sandbox's full-sudo admin, like the owner, and declare it.
const adminUser = (() => {
  try {
    return (JSON.parse(readFileSync('.sandbox/sandbox.json', 'utf8')) as { adminUser?: string }).adminUser;
  } catch {
    return undefined;
  }
})();
const adminConfig = adminUser ? { ...config, nas: { ...config.nas, username: adminUser } } : config;
const [psProgram, ...psArgs] = psArgv;
const psRule: RootRule = { id: 'bench-docker-ps', why: 'benchmark only', program: config.sudo.programs.timeout, args: ['-k', '2', '[0-9][0-9][0-9][0-9][0-9]', psProgram!, ...psArgs.map(globLiteral)] };
const adminPool = () => createNasPool(adminConfig, secrets, undefined, [psRule]);

async function main() {
  const results: Array<[string, Stats]> = [];

  let ownerOk = true;
  try {
    await owner();
  } catch (e) {
    ownerOk = false;
    console.error(`owner's way unavailable: ${(e as Error).message.split('\n')[0]}`);
  }
  if (ownerOk) results.push(["owner's way (sshpass+ssh+sudo docker ps)", stats(await sample(OWNER_N, owner, 1))]);

  results.push([
    'fresh ssh2 connection per call',
    stats(
      await sample(Math.min(N, 20), async () => {
        const p = adminPool();
        try {
          await p.run(psArgv, { sudo: true });
        } finally {
          await p.close();
        }
      }),
    ),
  ]);

  const pool = createNasPool(config, secrets);
  const docker = createDockerEngine(pool, config);
  const admin = adminPool();
  results.push(['pooled exec: sudo docker ps', stats(await sample(N, () => admin.run(psArgv, { sudo: true })))]);
  await admin.close();
  results.push(['pooled exec: true', stats(await sample(N, () => pool.run(['true'])))]);
  results.push([
    'pooled Engine API: list app containers',
    stats(await sample(N, () => docker.listContainers({ labels: [`loop-ops.app=${config.app.name}`] }))),
  ]);

  // 50 concurrent list calls, each timed from the common start. The first
  // burst also opens the extra kept-alive channels (a sudo login each); the
  // second one is what a running server sees.
  const burst = async () => {
    const lat: number[] = [];
    let failures = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 50 }, () =>
        docker.listContainers({ labels: [`loop-ops.app=${config.app.name}`] }).then(
          () => lat.push(performance.now() - t0),
          () => failures++,
        ),
      ),
    );
    return { s: stats(lat), failures, wall: performance.now() - t0 };
  };
  const cold = await burst();
  const warm = await burst();

  const base = results[0]![1].median;
  console.log(table(results, base, results[0]![0]));
  console.log('');
  for (const [name, b] of [['cold (opens channels)', cold], ['warm', warm]] as const) {
    console.log(
      `50 concurrent Engine API list calls, ${name}: ${b.failures} failures, median ${b.s.median.toFixed(1)} ms, p95 ${b.s.p95.toFixed(1)} ms, all done in ${b.wall.toFixed(0)} ms`,
    );
  }
  console.log(`pool: ${JSON.stringify(pool.getStats())}`);
  console.log(`peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MiB`);
  docker.close();
  await pool.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

/**
 * Blue-green against the sandbox NAS through MCP, with traffic flowing
 * through the nginx front the whole time: deploy, rollback, a version that
 * fails its health check, a slow starter, a broken nginx config, two deploys
 * at once, a server killed mid-deploy and recovered, and the OAuth reset
 * with its backup.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { startLoad } from '../helpers/load.js';
import { REPO_ROOT, SANDBOX_CONFIG, waitFor } from '../helpers/nas.js';
import { commitToOrigin, getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { startSandboxServer, TEST_TOKEN } from '../helpers/server.js';

const sandbox = getSandbox();
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** Fast gates for tests: the product's defaults (30 × 10 s, 30 s verify) would make this suite slow. */
function fastDeploy(c: Config): void {
  c.deploy.healthAttempts = 40;
  c.deploy.healthIntervalMs = 500;
  c.deploy.verifySeconds = 3;
  c.deploy.verifyIntervalMs = 250;
  c.deploy.toolWaitSeconds = 180;
}

async function connect(url: string): Promise<Client> {
  const c = new Client({ name: 'it-deploy', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  return c;
}

async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await c.callTool({ name, arguments: args }, undefined, { timeout: 300_000 })) as CallToolResult;
}

async function status(c: Client) {
  return (await call(c, 'status')).structuredContent as {
    liveColor: string;
    colors: Record<string, { state: string; version: string | null } | null>;
    lock: { held: boolean; holder: string | null; operationId: string | null };
    interruptedOperation: { operationId: string; phase: string } | null;
    recentDeployments: Array<{ kind: string; outcome: string }>;
  };
}

/**
 * A fresh sandbox (reset before and after) and our server on it, with a
 * connected client, for one describe block.
 */
function useSandboxServer(adjust: (c: Config) => void) {
  const h = {} as { server: Awaited<ReturnType<typeof startSandboxServer>>; client: Client };
  beforeAll(async () => {
    resetSandbox(sandbox!);
    h.server = await startSandboxServer(adjust);
    h.client = await connect(h.server.url);
  });
  afterAll(async () => {
    await h.client?.close();
    await h.server?.shutdown();
    resetSandbox(sandbox!);
  });
  return h;
}

describe.skipIf(!sandbox)(`blue-green on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  const h = useSandboxServer(fastDeploy);

  it('deploys a new version under continuous load with zero failed requests, keeping the old color running', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.1.0' }, 'v1.1.0');
    const load = startLoad(sandbox!.frontUrl);
    await new Promise((r) => setTimeout(r, 500));
    const r = await call(h.client, 'deploy_blue_green', {});
    await new Promise((r) => setTimeout(r, 500));
    const report = await load.stop();
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const out = r.structuredContent as { state: string; result: Record<string, any> };
    expect(out.state).toBe('succeeded');
    expect(out.result).toMatchObject({ fromColor: 'blue', toColor: 'green', liveColor: 'green', version: '1.1.0' });
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.requests).toBeGreaterThan(50);
    expect(report.versions).toEqual(['1.0.0', '1.1.0']);
    expect(report.lastVersion).toBe('1.1.0');
    const st = await status(h.client);
    expect(st.liveColor).toBe('green');
    expect(st.colors.blue).toMatchObject({ state: 'running' });
    expect(st.lock.held).toBe(false);
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'succeeded' });
    // Durations are measured by bench/deploy.bench.ts; here they are only reported.
    console.info(`deploy phases (ms): ${JSON.stringify(out.result.timingsMs)}`);
  });

  it('rolls back to the running previous color in seconds, with zero failed requests', async () => {
    const load = startLoad(sandbox!.frontUrl);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const r = await call(h.client, 'rollback');
    const elapsed = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 300));
    const report = await load.stop();
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect((r.structuredContent as { result: Record<string, unknown> }).result).toMatchObject({ toColor: 'blue', liveColor: 'blue' });
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.lastVersion).toBe('1.0.0');
    console.info(`rollback through MCP took ${elapsed} ms (measured properly by bench/deploy.bench.ts)`);
  });

  it('a version that fails its health check never gets traffic: clear report, old version serving, zero failures', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.2.0', MODE: 'fail' }, 'broken health');
    const load = startLoad(sandbox!.frontUrl);
    const r = await call(h.client, 'deploy_blue_green', {});
    const report = await load.stop();
    expect(r.isError).toBe(true);
    const text = textOf(r);
    expect(text).toMatch(/did not become healthy/);
    expect(text).toMatch(/traffic stayed on blue/);
    expect(text).toMatch(/lastLogLines/);
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(new Set(report.versions)).toEqual(new Set(['1.0.0']));
    const st = await status(h.client);
    expect(st.liveColor).toBe('blue');
    expect(st.lock.held).toBe(false);
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'failed' });
  });

  it('a slow-starting version becomes healthy on a later attempt and is deployed', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.3.0', MODE: 'slow:3' }, 'slow start');
    const r = await call(h.client, 'deploy_blue_green', {});
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const out = r.structuredContent as { result: Record<string, any>; progress: string[] };
    expect(out.result).toMatchObject({ liveColor: 'green', version: '1.3.0' });
    const job = (await call(h.client, 'job_status', {})).structuredContent as { progress: string[] };
    const attempts = job.progress.filter((p) => /^health \d+\//.test(p));
    expect(attempts.length).toBeGreaterThan(1); // not healthy at once…
    expect(attempts[attempts.length - 1]).toMatch(/: ok$/); // …but in the end
  });

  it('refuses a second deploy while one holds the lock, naming the holder', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.4.0', MODE: 'ok' }, 'v1.4.0');
    const [a, b] = await Promise.all([call(h.client, 'deploy_blue_green', {}), call(h.client, 'deploy_blue_green', {})]);
    const results = [a, b];
    const ok = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(textOf(refused[0]!)).toMatch(/lock is held by .* for deploy/);
    expect((await status(h.client)).lock.held).toBe(false);
  });

  it('keeps a backup of the OAuth keys and DB on reset_oauth', async () => {
    const keysDir = sandbox!.app.oauthKeysDir;
    const before = readdirSync(keysDir).map((f) => [f, readFileSync(join(keysDir, f), 'utf8')] as const);
    expect(before.length).toBeGreaterThan(0);
    const dry = await call(h.client, 'reset_oauth', { dry_run: true });
    expect(dry.isError ?? false).toBe(false);
    expect(readdirSync(keysDir)).toEqual(before.map(([f]) => f)); // dry run changed nothing
    const r = await call(h.client, 'reset_oauth', { confirm: 'loop-api' });
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const res = (r.structuredContent as { result: { backupDir: string; recreated: string[] } }).result;
    const backedUp = join(res.backupDir, 'oauth-keys');
    for (const [f, content] of before) expect(readFileSync(join(backedUp, f), 'utf8')).toBe(content);
    expect(readFileSync(join(res.backupDir, 'loop.db'), 'utf8').length).toBeGreaterThan(0);
    // The app made new keys on start.
    const after = readdirSync(keysDir).map((f) => readFileSync(join(keysDir, f), 'utf8'));
    expect(after.length).toBeGreaterThan(0);
    expect(after).not.toEqual(before.map(([, c]) => c));
    expect(res.recreated.length).toBeGreaterThan(0);
  });

  it('switches back by itself when the new color dies during verification, and says why', async () => {
    const before = await status(h.client);
    const from = before.liveColor;
    const to = from === 'blue' ? 'green' : 'blue';
    commitToOrigin(sandbox!, { VERSION: '1.5.0', MODE: 'ok' }, 'v1.5.0');
    const started = await call(h.client, 'deploy_blue_green', { wait_seconds: 0 });
    const jobId = (started.structuredContent as { jobId: string }).jobId;
    // The new version crashes right after the switch: kill it once verification has begun.
    await waitFor(async () => (await status(h.client)).interruptedOperation?.phase, (p) => p === 'verify', 120_000, 100);
    execFileSync(sandbox!.dockerBinary, ['kill', `loop-api-${to}`]);
    const r = await call(h.client, 'job_status', { job_id: jobId, wait_seconds: 120 });
    const job = r.structuredContent as { state: string; error: string | null; result: Record<string, unknown> | null };
    expect(job.state).toBe('failed');
    expect(job.error).toMatch(new RegExp(`failed verification after the switch .*switched back to ${from}`));
    expect(job.result).toMatchObject({ phase: 'verify', liveColor: from });
    const after = await status(h.client);
    expect(after.liveColor).toBe(from);
    expect(after.lock.held).toBe(false);
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'rolled_back' });
    const front = await fetch(`${sandbox!.frontUrl}/health`);
    expect(front.status).toBe(200);
  });

  it('restarts with zero downtime through the idle color, under load', async () => {
    const st = await status(h.client);
    const from = st.liveColor;
    const to = from === 'blue' ? 'green' : 'blue';
    const load = startLoad(sandbox!.frontUrl);
    await new Promise((r) => setTimeout(r, 300));
    const r = await call(h.client, 'restart');
    await new Promise((r) => setTimeout(r, 300));
    const report = await load.stop();
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect((r.structuredContent as { result: Record<string, unknown> }).result).toMatchObject({
      mode: 'zero_downtime',
      fromColor: from,
      liveColor: to,
      container: `loop-api-${to}`,
      healthy: true,
    });
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.requests).toBeGreaterThan(20);
    const after = await status(h.client);
    expect(after.liveColor).toBe(to);
    // The old color was recycled from the same spec: running, idle, ready for rollback.
    expect(after.colors[from]).toMatchObject({ state: 'running' });
    expect(after.colors[to]).toMatchObject({ state: 'running', version: st.colors[from]!.version });
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'restart', outcome: 'succeeded' });
  });

  it('stops only with confirmation and refuses the live color without force', async () => {
    const st = await status(h.client);
    const live = `loop-api-${st.liveColor}`;
    const idle = `loop-api-${st.liveColor === 'blue' ? 'green' : 'blue'}`;
    const noConfirm = await call(h.client, 'stop', { container: idle, confirm: 'yes' });
    expect(noConfirm.isError).toBe(true);
    expect(textOf(noConfirm)).toMatch(/confirm must repeat the container name/);
    const liveStop = await call(h.client, 'stop', { container: live, confirm: live });
    expect(liveStop.isError).toBe(true);
    expect(textOf(liveStop)).toMatch(/live color/);
    expect((await status(h.client)).colors[st.liveColor]).toMatchObject({ state: 'running' });
    const ok = await call(h.client, 'stop', { container: idle, confirm: idle });
    expect(ok.isError ?? false, textOf(ok)).toBe(false);
    expect((ok.structuredContent as { state: string }).state).toBe('exited');
  });
});

describe.skipIf(!sandbox)('nginx switch aborted by an invalid config', () => {
  // nginx -t "fails": the switch must restore the old upstream and leave traffic alone.
  const h = useSandboxServer((c) => {
    fastDeploy(c);
    c.nginx.testCommand = ['/bin/sh', '-c', 'echo "nginx: [emerg] invalid upstream (test)" >&2; exit 1'];
  });

  it('aborts the switch, restores the upstream, and traffic is untouched', async () => {
    commitToOrigin(sandbox!, { VERSION: '2.0.0' }, 'v2');
    const upstreamBefore = readFileSync(sandbox!.nginx.upstreamFile, 'utf8');
    const load = startLoad(sandbox!.frontUrl);
    const r = await call(h.client, 'deploy_blue_green', {});
    const report = await load.stop();
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/nginx switch failed/);
    expect(textOf(r)).toMatch(/invalid upstream \(test\)/);
    expect(readFileSync(sandbox!.nginx.upstreamFile, 'utf8')).toBe(upstreamBefore);
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(new Set(report.versions)).toEqual(new Set(['1.0.0']));
    expect((await status(h.client)).liveColor).toBe('blue');
  });
});

describe.skipIf(!sandbox)('a server killed mid-deploy (SIGKILL), then recovered', () => {
  let child: ChildProcess | undefined;
  const port = 18765;
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    LOOP_OPS_TOKEN: TEST_TOKEN,
    LOOP_OPS__DEPLOY__HEALTH_ATTEMPTS: '60',
    LOOP_OPS__DEPLOY__HEALTH_INTERVAL_MS: '500',
    LOOP_OPS__DEPLOY__VERIFY_SECONDS: '2',
    // A short heartbeat so the killed server's lock goes stale within seconds.
    LOOP_OPS__DEPLOY__HEARTBEAT_INTERVAL_MS: '1000',
    LOOP_OPS__DEPLOY__HEARTBEAT_STALE_MS: '4000',
    LOOP_OPS_LOG_FORMAT: 'json',
  };
  const startServer = async () => {
    // `node --import tsx`, not the tsx wrapper: the wrapper runs the server as a child
    // process, and a SIGKILL to the wrapper would leave the real server running.
    const c = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), 'serve', '--config', SANDBOX_CONFIG, '--port', String(port)], {
      cwd: REPO_ROOT,
      env,
      stdio: 'ignore',
    });
    c.once('exit', () => undefined);
    // Whoever answers on the port must be this process.
    await new Promise((r) => setTimeout(r, 200));
    if (c.exitCode !== null) throw new Error(`the server exited at once (code ${c.exitCode}); is port ${port} taken?`);
    await waitFor(() => fetch(`${url}/healthz`).then((r) => r.ok, () => false), (ok) => ok, 20_000, 200);
    return c;
  };

  beforeAll(() => resetSandbox(sandbox!));
  afterAll(() => {
    child?.kill('SIGKILL');
    resetSandbox(sandbox!);
  });

  it('status shows the interrupted deploy, traffic still flows, recover puts everything right', { timeout: 300_000 }, async () => {
    commitToOrigin(sandbox!, { VERSION: '3.0.0', MODE: 'slow:6' }, 'slow v3');
    child = await startServer();
    let c = await connect(url);
    const started = await call(c, 'deploy_blue_green', { wait_seconds: 0 });
    expect((started.structuredContent as { state: string }).state).toBe('running');
    // Wait until the new color is being health-checked, then kill the server outright.
    await waitFor(async () => (await status(c)).interruptedOperation?.phase, (p) => p === 'health', 120_000, 250);
    await c.close().catch(() => {});
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    // Really gone: nothing answers on the port any more.
    expect(await fetch(`${url}/healthz`).then(() => 'up', () => 'down')).toBe('down');

    const load = startLoad(sandbox!.frontUrl);
    child = await startServer();
    c = await connect(url);
    const st = await status(c);
    expect(st.lock.held).toBe(true);
    expect(st.interruptedOperation).toMatchObject({ phase: 'health' });
    expect(st.liveColor).toBe('blue');

    // A new deploy is refused while the stale lock stands…
    const refused = await call(c, 'deploy_blue_green', { wait_seconds: 10 });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/lock is held/);
    // …recover undoes it once the dead holder's heartbeat is stale: traffic stays on blue,
    // the half-started green is stopped, the lock is freed.
    const rec = await waitFor(
      () => call(c, 'recover'),
      (r) => !r.isError || !/heartbeat|lock is live/.test(textOf(r)),
      30_000,
      500,
    );
    expect(rec.isError ?? false, textOf(rec)).toBe(false);
    expect(rec.structuredContent).toMatchObject({ recovered: true, phaseWhenCut: 'health', liveColor: 'blue' });
    const after = await status(c);
    expect(after.lock.held).toBe(false);
    expect(after.interruptedOperation).toBeNull();
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'recovered' });
    const report = await load.stop();
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);

    // And the next deploy goes through.
    const again = await call(c, 'deploy_blue_green', { wait_seconds: 180 });
    expect(again.isError ?? false, textOf(again)).toBe(false);
    expect((await status(c)).liveColor).toBe('green');
    await c.close();
  });
});

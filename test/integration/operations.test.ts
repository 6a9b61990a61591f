/**
 * The other blue-green operations against the sandbox NAS through MCP, under
 * load through the nginx front: the OAuth reset with its backup and restore,
 * a new color that dies during verification, restart, stop, a switch aborted
 * by a broken nginx config, and a server killed mid-deploy then recovered.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLoad } from '../helpers/load.js';
import { call, connect, fastDeploy, textOf } from '../helpers/mcp.js';
import { appStatus as status, useSandboxServer } from '../helpers/scenario.js';
import { commitToOrigin, getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { REPO_ROOT, SANDBOX_SINGLE_CONFIG, waitFor } from '../helpers/nas.js';
import { TEST_TOKEN } from '../helpers/server.js';

const sandbox = getSandbox();

describe.skipIf(!sandbox)(`blue-green operations on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  // A 3 s verify window: one test kills the new color while verification runs.
  const h = useSandboxServer((c) => {
    fastDeploy(c);
    c.deploy.verifySeconds = 3;
  });

  it('reset_oauth keeps a backup of the OAuth keys and DB and recreates through the idle color: zero failed requests', async () => {
    const keysDir = sandbox!.app.oauthKeysDir;
    const before = readdirSync(keysDir).map((f) => [f, readFileSync(join(keysDir, f), 'utf8')] as const);
    expect(before.length).toBeGreaterThan(0);
    const dry = await call(h.client, 'reset_oauth', { dry_run: true });
    expect(dry.isError ?? false).toBe(false);
    const plan = (dry.structuredContent as { result: { steps: Array<{ step: string; argv?: string[] }> } }).result.steps;
    // The exact argv the reset will run as root: the configured absolute mv (sudoers matches it).
    const mv = h.server.deps.services.config.sudo.programs.mv;
    expect(plan.find((s) => s.step === 'backup' && s.argv?.[0] === mv)?.argv).toEqual([mv, '--', keysDir, expect.stringMatching(/\/backups\/oauth-reset-\d{8}T\d{6}\/$/)]);
    expect(readdirSync(keysDir)).toEqual(before.map(([f]) => f)); // dry run changed nothing
    const liveBefore = (await status(h.client)).liveColor;
    const load = startLoad(sandbox!.frontUrl);
    await new Promise((r) => setTimeout(r, 300));
    const r = await call(h.client, 'reset_oauth', { confirm: 'loop-api' });
    await new Promise((r) => setTimeout(r, 300));
    const report = await load.stop();
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    const res = (r.structuredContent as { result: { backupName: string; backupDir: string; recreated: string[]; liveColor: string } }).result;
    const backedUp = join(res.backupDir, 'oauth-keys');
    for (const [f, content] of before) expect(readFileSync(join(backedUp, f), 'utf8')).toBe(content);
    expect(readFileSync(join(res.backupDir, 'loop.db'), 'utf8').length).toBeGreaterThan(0);
    // The app made new keys on start.
    const after = readdirSync(keysDir).map((f) => readFileSync(join(keysDir, f), 'utf8'));
    expect(after.length).toBeGreaterThan(0);
    expect(after).not.toEqual(before.map(([, c]) => c));
    expect(res.liveColor).not.toBe(liveBefore);
    expect(res.recreated).toContain(`loop-api-${res.liveColor}`);
    const st = await status(h.client);
    expect(st.liveColor).toBe(res.liveColor);
    expect((st as unknown as { oauthBackups: string[] }).oauthBackups[0]).toBe(res.backupName);
  });

  it('restore_oauth puts the newest backup back byte for byte, keeps what was live, zero failed requests', async () => {
    const keysDir = sandbox!.app.oauthKeysDir;
    const dbPath = sandbox!.app.dbPath;
    const backups = (await status(h.client) as unknown as { oauthBackups: string[] }).oauthBackups;
    const newest = backups.find((b) => b.startsWith('oauth-reset-'))!;
    const backupDir = join(dirname(dbPath), 'backups', newest);
    const liveKeys = readdirSync(keysDir).map((f) => [f, readFileSync(join(keysDir, f))] as const);
    const liveDb = readFileSync(dbPath);

    const dry = await call(h.client, 'restore_oauth', { dry_run: true });
    expect(dry.isError ?? false, textOf(dry)).toBe(false);
    expect((dry.structuredContent as { result: { backup: string } }).result.backup).toBe(newest);
    expect(textOf(dry)).toMatch(/sudo \/\S*\/cp -a -- \S+\/oauth-keys /);
    const refused = await call(h.client, 'restore_oauth', { confirm: 'yes' });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/confirm must be the app name/);

    const load = startLoad(sandbox!.frontUrl);
    await new Promise((r) => setTimeout(r, 300));
    const r = await call(h.client, 'restore_oauth', { confirm: 'loop-api' });
    await new Promise((r) => setTimeout(r, 300));
    const report = await load.stop();
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    const res = (r.structuredContent as { result: { restoredFrom: string; restoredPaths: string[]; previousBackupDir: string } }).result;
    expect(res.restoredFrom).toBe(newest);
    expect(res.restoredPaths).toEqual([keysDir, dbPath]);
    // Byte for byte, same modes: the live files are the backup's.
    const backupKeys = readdirSync(join(backupDir, 'oauth-keys'));
    expect(readdirSync(keysDir)).toEqual(backupKeys);
    for (const f of backupKeys) {
      expect(readFileSync(join(keysDir, f)).equals(readFileSync(join(backupDir, 'oauth-keys', f))), f).toBe(true);
      expect(statSync(join(keysDir, f)).mode).toBe(statSync(join(backupDir, 'oauth-keys', f)).mode);
    }
    expect(readFileSync(dbPath).equals(readFileSync(join(backupDir, 'loop.db')))).toBe(true);
    // What was live before the restore is kept in its own backup.
    for (const [f, content] of liveKeys) expect(readFileSync(join(res.previousBackupDir, 'oauth-keys', f)).equals(content)).toBe(true);
    expect(readFileSync(join(res.previousBackupDir, 'loop.db')).equals(liveDb)).toBe(true);
    const st = await status(h.client);
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'restore_oauth', outcome: 'succeeded' });
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
    // A shell is never a root command (sudoers could not scope it): this stand-in runs as the SSH user.
    c.nginx.useSudo = false;
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
    const c = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli.ts'), 'serve', '--config', SANDBOX_SINGLE_CONFIG, '--port', String(port)], {
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

  beforeAll(() => resetSandbox(sandbox!, sandbox!.lane));
  afterAll(() => {
    child?.kill('SIGKILL');
    resetSandbox(sandbox!, sandbox!.lane);
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
    // Recovered under the interrupted operation's own id and start time.
    const killedId = (started.structuredContent as { jobId: string }).jobId;
    expect(after.recentDeployments[0]).toMatchObject({ id: killedId, kind: 'deploy', outcome: 'recovered', startedAt: st.interruptedOperation!.startedAt });
    const report = await load.stop();
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);

    // And the next deploy goes through.
    const again = await call(c, 'deploy_blue_green', { wait_seconds: 180 });
    expect(again.isError ?? false, textOf(again)).toBe(false);
    expect((await status(c)).liveColor).toBe('green');
    await c.close();
  });
});

/**
 * Blue-green deploys against the sandbox NAS through MCP, with traffic
 * flowing through the nginx front the whole time: deploy, rollback, a
 * version that fails its health check, a slow starter, two deploys at once,
 * the live lock and an operation whose lock is taken over. (Restart, stop,
 * the OAuth reset, a broken nginx config and a killed server: operations.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLoad } from '../helpers/load.js';
import { call, fastDeploy, textOf } from '../helpers/mcp.js';
import { appStatus as status, useSandboxServer } from '../helpers/scenario.js';
import { commitToOrigin, getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/nas.js';

const sandbox = getSandbox();

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

  it('one identity, a live lock: while a deploy runs here, recover and release_lock refuse and name the holder; job_status shows real phases', async () => {
    commitToOrigin(sandbox!, { VERSION: '1.4.1', MODE: 'slow:4' }, 'v1.4.1 slow');
    const started = await call(h.client, 'deploy_blue_green', { wait_seconds: 0 });
    const jobId = (started.structuredContent as { jobId: string }).jobId;
    expect(jobId).toMatch(/^deploy-\d{8}-\d{6}-[0-9a-f]{4}$/);
    // The lock on the NAS names the job: the job id IS the operation id.
    // (The lock is a directory made first, its details.json written next: wait for both.)
    const st = await waitFor(() => status(h.client), (s) => s.lock.held && s.lock.operationId !== null, 30_000, 100);
    expect(st.lock.operationId).toBe(jobId);
    const phases = new Set<string>();
    const job = await waitFor(
      async () => (await call(h.client, 'job_status', { job_id: jobId })).structuredContent as { phase: string },
      (j) => (phases.add(j.phase), j.phase === 'health'),
      120_000,
      100,
    );
    expect(job.phase).toBe('health');
    const rec = await call(h.client, 'recover');
    expect(rec.isError).toBe(true);
    expect(textOf(rec)).toMatch(new RegExp(`recover refused: the lock is live, held by .* for deploy ${jobId} since .*last heartbeat \\d+ s ago`));
    const rel = await call(h.client, 'release_lock', { confirm: jobId });
    expect(rel.isError).toBe(true);
    expect(textOf(rel)).toMatch(/release_lock refused: the lock is live/);
    const done = (await call(h.client, 'job_status', { job_id: jobId, wait_seconds: 180 })).structuredContent as { state: string; phase: string; progress: string[] };
    expect(done.state).toBe('succeeded');
    expect(done.phase).toBe('done');
    for (const p of ['locked', 'pull', 'build', 'start', 'health', 'switch', 'verify', 'retire']) expect(done.progress.join('\n')).toContain(`phase: ${p}`);
    expect(phases.has('starting') && phases.size === 1).toBe(false);
    const after = await status(h.client);
    expect(after.lock.held).toBe(false);
    expect(after.recentDeployments[0]).toMatchObject({ id: jobId, kind: 'deploy', outcome: 'succeeded' });
  });

  it('release_lock removes a stale lock it was told about, and refuses a fresh one or a wrong id', async () => {
    const lockDir = join(sandbox!.stateDir, 'lock');
    const put = (operationId: string, mtime?: number) => {
      mkdirSync(lockDir, { recursive: true });
      const f = join(lockDir, 'details.json');
      writeFileSync(f, `${JSON.stringify({ operationId, operation: 'deploy', holder: 'cli:gone@laptop', since: '2026-12-06T00:00:00.000Z', host: 'laptop', pid: 4242, heartbeatAt: '2026-12-06T00:00:01.000Z' })}\n`);
      if (mtime !== undefined) utimesSync(f, mtime, mtime);
      execFileSync('chown', ['-R', `${sandbox!.ssh.username}:${sandbox!.ssh.username}`, lockDir]);
    };
    try {
      put('deploy-20261206-000000-beef');
      const fresh = await call(h.client, 'release_lock', { confirm: 'deploy-20261206-000000-beef' });
      expect(fresh.isError).toBe(true);
      expect(textOf(fresh)).toMatch(/the lock is live, held by cli:gone@laptop on laptop \(pid 4242\) for deploy deploy-20261206-000000-beef/);
      put('deploy-20261206-000000-beef', Date.now() / 1000 - 120);
      const wrong = await call(h.client, 'release_lock', { confirm: 'deploy-20261206-000000-cafe' });
      expect(wrong.isError).toBe(true);
      expect(textOf(wrong)).toMatch(/confirm must be the lock's operation id/);
      const ok = await call(h.client, 'release_lock', { confirm: 'deploy-20261206-000000-beef' });
      expect(ok.isError ?? false, textOf(ok)).toBe(false);
      expect(ok.structuredContent).toMatchObject({ released: true, operationId: 'deploy-20261206-000000-beef', holder: 'cli:gone@laptop' });
      expect(existsSync(lockDir)).toBe(false);
      expect(readdirSync(sandbox!.stateDir).filter((f) => f.startsWith('lock'))).toEqual([]);
    } finally {
      rmSync(lockDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!sandbox)('an operation whose lock is taken over', () => {
  const h = useSandboxServer((c) => {
    fastDeploy(c);
    c.deploy.heartbeatIntervalMs = 500;
    c.deploy.heartbeatStaleMs = 2_000;
  });

  it('stops at its next heartbeat and writes nothing more in its name', async () => {
    commitToOrigin(sandbox!, { VERSION: '4.0.0', MODE: 'slow:8' }, 'slow v4');
    const started = await call(h.client, 'deploy_blue_green', { wait_seconds: 0 });
    const jobId = (started.structuredContent as { jobId: string }).jobId;
    await waitFor(async () => ((await call(h.client, 'job_status', { job_id: jobId })).structuredContent as { phase: string }).phase, (p) => p === 'health', 120_000, 100);
    // Another holder takes the lock over (as a recover elsewhere would, had it judged the lock stale).
    const f = join(sandbox!.stateDir, 'lock', 'details.json');
    const d = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
    writeFileSync(f, `${JSON.stringify({ ...d, holder: 'cli:other@laptop', host: 'laptop', pid: 1 })}\n`);
    execFileSync('chown', [`${sandbox!.ssh.username}:${sandbox!.ssh.username}`, f]);
    try {
      const job = (await call(h.client, 'job_status', { job_id: jobId, wait_seconds: 60 })).structuredContent as { state: string; error: string | null };
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(new RegExp(`operation ${jobId} lost its lock \\(the lock names another holder now\\)`));
      // Nothing more in its name: the lock still names the other holder, no history line, traffic untouched.
      expect(JSON.parse(readFileSync(f, 'utf8'))).toMatchObject({ holder: 'cli:other@laptop', operationId: jobId });
      const st = await status(h.client);
      expect(st.liveColor).toBe('blue');
      expect(st.recentDeployments.map((r) => (r as unknown as { id: string }).id)).not.toContain(jobId);
    } finally {
      rmSync(join(sandbox!.stateDir, 'lock'), { recursive: true, force: true });
    }
  });
});

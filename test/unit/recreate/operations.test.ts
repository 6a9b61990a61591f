/**
 * The recreate operations end to end on fakes: runOperation on a NAS that
 * accepts every command (the lock, journal and history protocols are tested
 * on their own and on the sandbox), and an in-memory Docker whose images say
 * whether they are healthy. What is checked is what Docker holds afterwards
 * and in which order it was asked: the old container stops before the new
 * one starts (one host port), a failed gate puts the old one back.
 */
import { describe, expect, it } from 'vitest';
import { recreateConfigSchema } from '../../../src/config.js';
import { OperationError } from '../../../src/bluegreen/operation.js';
import type { RecreateServices } from '../../../src/services.js';
import { deploy, restart, rollback, stop } from '../../../src/recreate/engine.js';
import { memoryLogger } from '../server/fixtures.js';
import { FakeDocker } from './fake-docker.js';

const ok = (stdout = '') => ({ code: 0, signal: undefined, stdout, stderr: '', stdoutTruncated: false, stderrTruncated: false, durationMs: 1 });

function fakeNas() {
  const sftp = { writeFile: (_p: string, _c: unknown, _o: unknown, cb: (e?: Error) => void) => cb(), ext_openssh_rename: (_a: string, _b: string, cb: (e?: Error) => void) => cb(), unlink: (_p: string, cb: (e?: Error) => void) => cb() };
  const answer = async (argv: string[]) => (argv.includes('rev-parse') ? ok('4f2a9c1d0e5b6a7c8d9e0f1a2b3c4d5e6f708192\n') : argv[0] === 'cat' ? ok('1.2.0\n') : ok());
  return { exec: answer, run: answer, sharedSftp: async () => sftp, withSftp: async <T>(fn: (s: typeof sftp) => Promise<T>) => fn(sftp) };
}

function setup(healthOf: (image: string) => 'healthy' | 'unhealthy' | 'none' = () => 'healthy') {
  const config = recreateConfigSchema.parse({
    nas: { host: 'nas.local', username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
    app: { name: 'loop-auth', checkoutDir: '/volume1/docker/loop-auth/src', containerPort: 8080 },
    deploy: { healthAttempts: 3, healthIntervalMs: 100 },
  });
  const docker = new FakeDocker(healthOf);
  const svc = { target: 'prod', config, pool: fakeNas(), docker, log: memoryLogger().log } as unknown as RecreateServices;
  const o = { who: { caller: 'token:abc' }, progress: () => {} };
  return { svc, docker, o };
}

describe('recreate deploy', () => {
  it('the running container becomes <app>-previous (stopped), the new image runs as <app>, the old previous goes once it is healthy', async () => {
    const { svc, docker, o } = setup();
    docker.add('loop-auth-previous', 'loop-auth:v0', 'exited');
    docker.add('loop-auth', 'loop-auth:v1');
    const r = await deploy(svc, { pull: true }, o);
    expect(r.image).toMatch(/^loop-auth:\d{14}-4f2a9c1$/);
    expect(r.version).toBe('1.2.0');
    expect(r.previousImage).toBe('loop-auth:v1');
    expect(docker.picture()).toEqual({ 'loop-auth': `${r.image} running`, 'loop-auth-previous': 'loop-auth:v1 exited' });
    // Created before the stop (creating binds no port), started after it.
    expect(docker.calls).toEqual([
      `build ${r.image}`,
      'rename loop-auth-previous loop-auth-outgoing',
      'rename loop-auth loop-auth-previous',
      `create loop-auth ${r.image}`,
      'stop loop-auth-previous',
      'start loop-auth',
      'remove loop-auth-outgoing',
    ]);
  });

  it('a first deploy (no container yet) just creates and starts it', async () => {
    const { svc, docker, o } = setup();
    const r = await deploy(svc, { pull: false }, o);
    expect(r.previousImage).toBeNull();
    expect(r.swapGapMs).toBeNull();
    expect(docker.picture()).toEqual({ 'loop-auth': `${r.image} running` });
  });

  it('a new version that fails its gate is removed and the old one serves again (rolled_back)', async () => {
    const { svc, docker, o } = setup((image) => (image.endsWith(':v1') || image.endsWith(':v0') ? 'healthy' : 'unhealthy'));
    docker.add('loop-auth-previous', 'loop-auth:v0', 'exited');
    docker.add('loop-auth', 'loop-auth:v1');
    const err = await deploy(svc, { pull: true }, o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as OperationError).outcome).toBe('rolled_back');
    expect((err as OperationError).message).toMatch(/did not become healthy .*the old version serves again/);
    expect((err as OperationError<{ lastLogLines: string[] }>).result?.lastLogLines).toEqual(['a log line']);
    // The previous version is where it was: rollback still goes back to it.
    expect(docker.picture()).toEqual({ 'loop-auth': 'loop-auth:v1 running', 'loop-auth-previous': 'loop-auth:v0 exited' });
  });
});

describe('recreate rollback', () => {
  it('<app> and <app>-previous trade names through <app>-outgoing; the previous one runs', async () => {
    const { svc, docker, o } = setup();
    docker.add('loop-auth-previous', 'loop-auth:v0', 'exited');
    docker.add('loop-auth', 'loop-auth:v1');
    const r = await rollback(svc, o);
    expect(r.image).toBe('loop-auth:v0');
    expect(docker.picture()).toEqual({ 'loop-auth': 'loop-auth:v0 running', 'loop-auth-previous': 'loop-auth:v1 exited' });
    expect(docker.calls).toEqual(['rename loop-auth loop-auth-outgoing', 'rename loop-auth-previous loop-auth', 'rename loop-auth-outgoing loop-auth-previous', 'stop loop-auth-previous', 'start loop-auth']);
  });

  it('a previous version that fails its gate is swapped back (rolled_back)', async () => {
    const { svc, docker, o } = setup((image) => (image === 'loop-auth:v0' ? 'unhealthy' : 'healthy'));
    docker.add('loop-auth-previous', 'loop-auth:v0', 'exited');
    docker.add('loop-auth', 'loop-auth:v1');
    const err = (await rollback(svc, o).catch((e: unknown) => e)) as OperationError;
    expect(err.outcome).toBe('rolled_back');
    expect(docker.picture()).toEqual({ 'loop-auth': 'loop-auth:v1 running', 'loop-auth-previous': 'loop-auth:v0 exited' });
  });

  it('refuses without a previous container, changing nothing', async () => {
    const { svc, docker, o } = setup();
    docker.add('loop-auth', 'loop-auth:v1');
    await expect(rollback(svc, o)).rejects.toThrow(/no loop-auth-previous container/);
    expect(docker.calls).toEqual([]);
  });
});

describe('recreate restart', () => {
  it('recreates <app> from its own image; the old one is removed once the new one is healthy; <app>-previous untouched', async () => {
    const { svc, docker, o } = setup();
    docker.add('loop-auth-previous', 'loop-auth:v0', 'exited');
    docker.add('loop-auth', 'loop-auth:v1');
    const r = await restart(svc, { inPlace: false }, o);
    expect(r.mode).toBe('recreate');
    expect(docker.picture()).toEqual({ 'loop-auth': 'loop-auth:v1 running', 'loop-auth-previous': 'loop-auth:v0 exited' });
    expect(docker.calls).toEqual(['rename loop-auth loop-auth-outgoing', 'create loop-auth loop-auth:v1', 'stop loop-auth-outgoing', 'start loop-auth', 'remove loop-auth-outgoing']);
  });

  it('in place: docker restart, then the gate', async () => {
    const { svc, docker, o } = setup();
    docker.add('loop-auth', 'loop-auth:v1');
    const r = await restart(svc, { inPlace: true }, o);
    expect(r.mode).toBe('in_place');
    expect(docker.calls).toEqual(['restart loop-auth']);
  });
});

describe('recreate stop', () => {
  it('stops <app>-previous; <app> itself only with force', async () => {
    const { svc, docker, o } = setup();
    docker.add('loop-auth-previous', 'loop-auth:v0');
    docker.add('loop-auth', 'loop-auth:v1');
    await expect(stop(svc, { container: 'loop-auth', confirm: 'loop-auth', force: false }, o)).rejects.toThrow(/the app itself/);
    await expect(stop(svc, { container: 'loop-api-blue', confirm: 'loop-api-blue', force: true }, o)).rejects.toThrow(/must be one of: loop-auth, loop-auth-previous/);
    const r = await stop(svc, { container: 'loop-auth-previous', confirm: 'loop-auth-previous', force: false }, o);
    expect(r).toMatchObject({ state: 'exited', wasLive: false });
    expect((await stop(svc, { container: 'loop-auth', confirm: 'loop-auth', force: true }, o)).wasLive).toBe(true);
  });
});

describe('recreate dry runs', () => {
  it('deploy: the lock, git and docker build argv as they run, then every Engine call of the replace, the gap named', async () => {
    const { svc, docker } = setup();
    docker.add('loop-auth-previous', 'loop-auth:v0', 'exited');
    docker.add('loop-auth', 'loop-auth:v1');
    const { planDeploy } = await import('../../../src/recreate/plan.js');
    const plan = await planDeploy(svc, { pull: false, ref: 'v1.2.0' });
    expect(plan.steps.map((s) => s.step)).toEqual(['lock', 'fetch', 'fetch', 'version', 'version', 'build', 'replace', 'create', 'swap', 'health', 'restore', 'cleanup', 'prune', 'release']);
    const argv = (step: string, i = 0) => plan.steps.filter((s) => s.step === step)[i]?.argv;
    expect(argv('fetch', 1)).toEqual(['git', '-C', '/volume1/docker/loop-auth/src', 'checkout', '--detach', 'v1.2.0']);
    expect(argv('build')).toEqual([
      '/var/packages/ContainerManager/target/usr/bin/docker', 'build', '--tag', expect.stringMatching(/^loop-auth:\d{14}-4f2a9c1$/),
      '--label', 'loop-ops.app=loop-auth', '--label', 'loop-ops.version=<version>', '--label', 'loop-ops.commit=4f2a9c1d0e5b6a7c8d9e0f1a2b3c4d5e6f708192',
      '--', '/volume1/docker/loop-auth/src',
    ]);
    const detail = (step: string) => plan.steps.find((s) => s.step === step)!.detail;
    expect(detail('replace')).toBe('docker API: rename loop-auth-previous (loop-auth:v0) to loop-auth-outgoing; docker API: rename loop-auth (loop-auth:v1) to loop-auth-previous (it keeps serving)');
    expect(detail('cleanup')).toBe('docker API: remove loop-auth-outgoing (loop-auth:v0, the version before the previous one)');
    expect(detail('create')).toMatch(/^docker API: create loop-auth: image loop-auth:\d{14}-4f2a9c1, network loop_default, no published port, restart unless-stopped/);
    expect(detail('swap')).toMatch(/stop loop-auth-previous .*start loop-auth\. THE APP DOES NOT ANSWER/);
    expect(detail('health')).toBe("Docker's HEALTHCHECK status of loop-auth up to 3×100 ms (1 success needed)");
    expect(docker.calls).toEqual([]);
  });

  it('restart: recreate through <app>-outgoing, or docker restart in place', async () => {
    const { svc, docker } = setup();
    docker.add('loop-auth', 'loop-auth:v1');
    const { planRestart } = await import('../../../src/recreate/plan.js');
    expect((await planRestart(svc, { inPlace: false })).steps.map((s) => s.step)).toEqual(['lock', 'replace', 'create', 'swap', 'health', 'restore', 'cleanup', 'release']);
    expect((await planRestart(svc, { inPlace: true })).steps.map((s) => s.detail)[1]).toBe('docker API: restart loop-auth (10 s): the app does not answer until it is up');
    expect(docker.calls).toEqual([]);
  });
});

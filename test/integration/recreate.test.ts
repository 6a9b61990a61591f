/**
 * The recreate strategy against the sandbox's loop-auth on prod (one
 * container `loop-auth` on 127.0.0.1:18090, no nginx in front), through a
 * Fleet built from the sandbox's targets file: deploy a new commit, a commit
 * whose health check fails (removed, the old version serves again),
 * rollback to loop-auth-previous, rollback to a kept image, restart behind
 * the gate. Load runs against :18090 during the deploy to measure the gap in
 * service the swap causes (reported, not asserted: this strategy has one).
 * The sandbox's loop-auth is put back to its initial version afterwards.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeJournal } from '../../src/bluegreen/journal.js';
import { acquireLock, releaseLockIf } from '../../src/bluegreen/lock.js';
import { newOperationId, OperationError } from '../../src/bluegreen/operation.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { readRecreateStatus } from '../../src/ops/recreate-status.js';
import { deploy, recover, restart, rollback, rollbackTo } from '../../src/recreate/engine.js';
import { appSpec, LABEL_OPERATION } from '../../src/recreate/spec.js';
import { createServices, type RecreateServices, type ServiceBundle } from '../../src/services.js';
import { commitTo, startFleetServer, targetFacts } from '../helpers/fleet.js';
import { startLoad } from '../helpers/load.js';
import { call, connect, fastDeploy, textOf } from '../helpers/mcp.js';
import { SANDBOX_CONFIG } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
const auth = sandbox ? targetFacts()?.prod?.apps['loop-auth'] : undefined;
const skip = !sandbox ? sandboxSkipReason() : auth?.hostPort === undefined ? 'the sandbox has no loop-auth app on prod' : '';

/** prod's loop-auth back to its initial state (all of prod around the file: loop-api's lock is taken too). */
const resetAuth = () => execFileSync('bash', [sandbox!.sandboxScript, 'reset', '--target', 'prod', '--app', 'loop-auth'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
const resetProd = () => execFileSync('bash', [sandbox!.sandboxScript, 'reset', '--target', 'prod'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });

describe.skipIf(!!skip)(`recreate strategy: loop-auth on prod${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bundle: ServiceBundle;
  let svc: RecreateServices;
  const url = `http://127.0.0.1:${auth?.hostPort}`;
  const o = { who: { caller: 'test:recreate' }, progress: () => {} };
  const served = async () => ((await (await fetch(`${url}/health`)).json()) as { version: string }).version;
  const status = () => readRecreateStatus(svc, { historyLimit: 5 });

  beforeAll(async () => {
    resetProd();
    const { config: root, secrets } = loadConfig({ file: SANDBOX_CONFIG });
    for (const t of root.targets) {
      for (const a of t.apps) {
        fastDeploy(a.config as Config);
        // A lock left by a "dead" holder (the recover tests) goes stale within a second or two.
        Object.assign(a.config.deploy, { heartbeatIntervalMs: 500, heartbeatStaleMs: 1_000 });
      }
    }
    bundle = await createServices(root, secrets, createLogger({ level: 'silent', pretty: false }), { watchPreviousColor: false });
    const scope = bundle.fleet.scope('prod', 'loop-auth');
    if (scope.strategy !== 'recreate') throw new Error(`prod/loop-auth uses ${scope.strategy}`);
    svc = scope.services;
  }, 240_000);

  afterAll(async () => {
    await bundle?.close();
    // Leave loop-auth as we found it: the initial version running, no previous, state emptied.
    resetProd();
  }, 240_000);

  it('deploys a new commit: the new version answers on its port, the old one is kept stopped as loop-auth-previous', async () => {
    const initial = await served();
    commitTo('prod', 'loop-auth', { VERSION: '1.1.0' }, 'loop-auth 1.1.0');
    const load = startLoad(url, { concurrency: 2, maxMs: 170_000 });
    const r = await deploy(svc, { pull: true }, o);
    const rep = await load.stop('recreate deploy (loop-auth :18090)');
    console.info(`recreate deploy: swapGapMs ${r.swapGapMs} (stop of the old container → first good probe); ${rep.failures} of ${rep.requests} requests failed during the deploy; timings ${JSON.stringify(r.timingsMs)}`);
    expect(r.version).toBe('1.1.0');
    expect(r.swapGapMs).not.toBeNull();
    expect(await served()).toBe('1.1.0');
    expect(rep.versions).toEqual([initial, '1.1.0']);
    const st = await status();
    expect(st.container).toMatchObject({ name: 'loop-auth', state: 'running', version: '1.1.0', image: r.image });
    expect(st.previous).toMatchObject({ name: 'loop-auth-previous', state: 'exited', version: initial });
    expect(st.lock.held).toBe(false);
    expect(st.recentDeployments[0]).toMatchObject({ id: r.operationId, kind: 'deploy', outcome: 'succeeded', version: '1.1.0' });
  }, 180_000);

  it('a commit that fails its health check is removed; the old version serves again and the previous stays (rolled_back)', async () => {
    commitTo('prod', 'loop-auth', { VERSION: '1.2.0', MODE: 'fail' }, 'loop-auth 1.2.0, failing');
    const err = await deploy(svc, { pull: true }, o).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as OperationError).outcome).toBe('rolled_back');
    expect((err as OperationError).message).toMatch(/did not become healthy .*HTTP 500.*the old version serves again/);
    expect(await served()).toBe('1.1.0');
    const st = await status();
    expect(st.container).toMatchObject({ state: 'running', version: '1.1.0' });
    expect(st.previous).toMatchObject({ state: 'exited', version: '1.0.0' });
    expect(st.otherAppContainers).toEqual([]);
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'rolled_back', version: '1.2.0' });
  }, 180_000);

  it('rollback: loop-auth and loop-auth-previous trade places behind the gate', async () => {
    const r = await rollback(svc, o);
    expect(r.version).toBe('1.0.0');
    expect(await served()).toBe('1.0.0');
    const st = await status();
    expect(st.container).toMatchObject({ state: 'running', version: '1.0.0' });
    expect(st.previous).toMatchObject({ state: 'exited', version: '1.1.0' });
  }, 120_000);

  it('rollback to a kept version: loop-auth recreated from that image (no rebuild)', async () => {
    const kept = (await status()).retainedVersions.find((v) => v.version === '1.1.0');
    expect(kept, 'the 1.1.0 image is kept').toBeDefined();
    const r = await rollbackTo(svc, '1.1.0', o);
    expect(r.image).toBe(kept!.image);
    expect(await served()).toBe('1.1.0');
    expect((await status()).previous).toMatchObject({ state: 'exited', version: '1.0.0' });
  }, 120_000);

  it('restart: a new loop-auth from its own image behind the gate; loop-auth-previous untouched; in place too, while loop-api\'s lock is held', async () => {
    const before = await status();
    const r = await restart(svc, { inPlace: false }, o);
    expect(r).toMatchObject({ mode: 'recreate', healthy: true, image: before.container!.image });
    const after = await status();
    expect(after.container).toMatchObject({ state: 'running', version: '1.1.0', image: before.container!.image });
    expect(after.container!.startedAt).not.toBe(before.container!.startedAt);
    expect(after.previous).toMatchObject({ name: 'loop-auth-previous', image: before.previous!.image, state: 'exited' });
    expect(after.otherAppContainers).toEqual([]);
    // loop-api's lock (its own state dir) held meanwhile: loop-auth's operations do not wait for it.
    const api = bundle.fleet.scope('prod', 'loop-api').services;
    const since = new Date().toISOString();
    const held = await acquireLock(api.pool, api.config.state.dir, { operationId: newOperationId('deploy'), operation: 'deploy', holder: 'test:loop-api', since, host: 'test', pid: process.pid, heartbeatAt: since });
    try {
      const inPlace = await restart(svc, { inPlace: true }, o);
      expect(inPlace.mode).toBe('in_place');
    } finally {
      await releaseLockIf(api.pool, api.config.state.dir, held);
    }
    expect(await served()).toBe('1.1.0');
  }, 120_000);

  /**
   * An operation cut off (its server died) at a phase, as the NAS would
   * show it: the containers as that phase leaves them, the journal at that
   * phase, the lock with a heartbeat gone stale.
   */
  async function cutOff(phase: 'swap' | 'health', newStarted: boolean) {
    const id = newOperationId('deploy');
    const old = (await svc.docker.inspect('loop-auth'))!;
    await svc.docker.rename(old.id, 'loop-auth-previous');
    const spec = appSpec(svc, { image: old.image, env: {}, labels: { 'loop-ops.version': 'cut-off', [LABEL_OPERATION]: id, 'loop-ops.deployment': id } });
    const newId = (await svc.docker.create(spec)).slice(0, 12);
    await svc.docker.stop(old.id, 5);
    if (newStarted) await svc.docker.start(newId);
    const since = new Date().toISOString();
    await acquireLock(svc.pool, svc.config.state.dir, { operationId: id, operation: 'deploy', holder: 'test:dead-server', since, host: 'gone', pid: 1, heartbeatAt: since });
    await writeJournal(svc.pool, svc.config.state.dir, {
      operationId: id,
      kind: 'deploy',
      phase,
      startedAt: since,
      updatedAt: since,
      finished: false,
      detail: { strategy: 'recreate', container: 'loop-auth', fromId: old.id, toId: newId, keepFrom: 'previous', oldPreviousId: '' },
    });
    // Past heartbeatStaleMs by the NAS's clock (the lock file's mtime).
    await new Promise((r) => setTimeout(r, 2_500));
    return { id, oldId: old.id, newId };
  }

  it('recover undoes a deploy cut off mid-swap (new container never started): the old one serves again as loop-auth', async () => {
    resetAuth();
    const { id, oldId, newId } = await cutOff('swap', false);
    expect((await status()).interruptedOperation?.operationId).toBe(id);
    const r = await recover(svc, o);
    expect(r).toMatchObject({ recovered: true, operationId: id, phaseWhenCut: 'swap' });
    expect(r.actions.join('\n')).toMatch(/removed loop-auth .*created by the interrupted deploy/);
    const st = await status();
    expect(st.container).toMatchObject({ state: 'running', version: '1.0.0' });
    expect((await svc.docker.inspect('loop-auth'))!.id).toBe(oldId);
    expect(await svc.docker.inspect(newId)).toBeUndefined();
    expect(st.lock.held).toBe(false);
    expect(st.interruptedOperation).toBeNull();
    expect(st.recentDeployments[0]).toMatchObject({ id, outcome: 'recovered' });
    expect(await served()).toBe('1.0.0');
  }, 120_000);

  it('recover keeps a deploy cut off at its gate whose new container is healthy, and completes it', async () => {
    resetAuth();
    const { id, oldId, newId } = await cutOff('health', true);
    const r = await recover(svc, o);
    expect(r.actions.join('\n')).toMatch(/is running and healthy: kept/);
    const st = await status();
    expect((await svc.docker.inspect('loop-auth'))!.id).toBe(newId);
    expect(st.container).toMatchObject({ state: 'running', version: 'cut-off' });
    expect(st.previous).toMatchObject({ state: 'exited' });
    expect((await svc.docker.inspect('loop-auth-previous'))!.id).toBe(oldId);
    expect(st.recentDeployments[0]).toMatchObject({ id, outcome: 'recovered' });
  }, 120_000);

  it('through the tools: status, a dry run that names the gap, restart, logs and health of prod/loop-auth', async () => {
    resetAuth();
    const server = await startFleetServer();
    const client = await connect(server.url);
    try {
      const st = await call(client, 'status', { target: 'prod', app: 'loop-auth' });
      expect(st.isError ?? false, textOf(st)).toBe(false);
      expect(st.structuredContent).toMatchObject({ target: 'prod', strategy: 'recreate', app: 'loop-auth', container: { name: 'loop-auth', state: 'running', version: '1.0.0' } });
      const plan = await call(client, 'deploy_blue_green', { target: 'prod', app: 'loop-auth', dry_run: true });
      expect(textOf(plan)).toMatch(/THE APP DOES NOT ANSWER/);
      expect(textOf(plan)).toMatch(/git -C \S+loop-auth\/src pull --ff-only/);
      const rs = await call(client, 'restart', { target: 'prod', app: 'loop-auth' });
      expect(rs.isError ?? false, textOf(rs)).toBe(false);
      expect(rs.structuredContent).toMatchObject({ state: 'succeeded', result: { strategy: 'recreate', mode: 'recreate', healthy: true } });
      const lg = await call(client, 'logs', { target: 'prod', app: 'loop-auth', lines: 20 });
      expect(lg.structuredContent).toMatchObject({ container: 'loop-auth' });
      const h = await call(client, 'health', { target: 'prod', app: 'loop-auth' });
      expect(h.structuredContent).toMatchObject({ healthy: true, containers: [{ role: 'live', name: 'loop-auth', state: 'running' }, { role: 'previous', exists: false }] });
      // loop-api on the same target is untouched by any of it.
      const api = await call(client, 'status', { target: 'prod', app: 'loop-api' });
      expect(api.structuredContent).toMatchObject({ strategy: 'blue-green', lock: { held: false } });
    } finally {
      await client.close();
      await server.shutdown();
      await server.deps.close();
    }
  }, 180_000);
});

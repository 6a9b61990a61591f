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
import { OperationError } from '../../src/bluegreen/operation.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { readRecreateStatus } from '../../src/ops/recreate-status.js';
import { deploy, restart, rollback, rollbackTo } from '../../src/recreate/engine.js';
import { createServices, type RecreateServices, type ServiceBundle } from '../../src/services.js';
import { commitTo, targetFacts } from '../helpers/fleet.js';
import { startLoad } from '../helpers/load.js';
import { fastDeploy } from '../helpers/mcp.js';
import { SANDBOX_CONFIG } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
const auth = sandbox ? targetFacts()?.prod?.apps['loop-auth'] : undefined;
const skip = !sandbox ? sandboxSkipReason() : auth?.hostPort === undefined ? 'the sandbox has no loop-auth app on prod' : '';

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
    for (const t of root.targets) for (const a of t.apps) fastDeploy(a.config as Config);
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

  it('restart: a new loop-auth from its own image behind the gate; loop-auth-previous untouched; in place too', async () => {
    const before = await status();
    const r = await restart(svc, { inPlace: false }, o);
    expect(r).toMatchObject({ mode: 'recreate', healthy: true, image: before.container!.image });
    const after = await status();
    expect(after.container).toMatchObject({ state: 'running', version: '1.1.0', image: before.container!.image });
    expect(after.container!.startedAt).not.toBe(before.container!.startedAt);
    expect(after.previous).toMatchObject({ name: 'loop-auth-previous', image: before.previous!.image, state: 'exited' });
    expect(after.otherAppContainers).toEqual([]);
    const inPlace = await restart(svc, { inPlace: true }, o);
    expect(inPlace.mode).toBe('in_place');
    expect(await served()).toBe('1.1.0');
  }, 120_000);
});

/**
 * Image retention's Docker calls against the sandbox NAS: the container
 * listing that protects images, and removal by tag that the Engine refuses
 * for an image a (stopped) container uses. Only images this test builds are
 * touched; the app's containers keep running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneAppImages } from '../../src/bluegreen/prune.js';
import type { DockerEngine } from '../../src/docker/index.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { adminPool, sandboxConfig, sandboxDocker, sandboxPool } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
/** A repository of its own, so the app's images are never candidates here. */
const APP = 'loop-retention-test';
const CONTAINER = 'loop-retention-test-user';
const tag = (n: number) => `${APP}:2020010100000${n}-abc000${n}`;

describe.skipIf(!sandbox)(`image retention on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let pool: SshPool;
  let docker: DockerEngine;
  const cleanup = async () => {
    await docker.remove(CONTAINER, { force: true }).catch(() => {});
    for (const i of await docker.listImages(APP).catch(() => [])) for (const t of i.tags) await docker.removeImage(t).catch(() => {});
  };
  beforeAll(async () => {
    pool = sandboxPool();
    docker = sandboxDocker(pool);
    await cleanup();
  });
  afterAll(async () => {
    await cleanup();
    docker?.close();
    await pool?.close();
  });

  it('lists the image every container uses, and removes only unused tags', async () => {
    const { config } = sandboxConfig();
    // Four distinct images (a label apiece), built from the app checkout like a deploy does.
    for (const n of [1, 2, 3, 4]) {
      await docker.build({ contextDir: config.app.checkoutDir, tag: tag(n), labels: { 'loop-ops.app': APP, 'loop-ops.version': `0.0.${n}`, 'loop-ops.test': String(n) } });
    }
    // A second tag on image 4: removing it must only untag.
    // Tagged as the full-sudo admin: `docker tag` is not one of the product's root commands.
    const admin = adminPool([config.docker.binary]);
    await admin.run([config.docker.binary, 'tag', tag(4), `${APP}:20200101000005-abc0005`], { sudo: config.sudo.mode !== 'none', timeoutMs: 30_000 });
    await admin.close();
    // A stopped container of image 1 (created, never started).
    await docker.create({ name: CONTAINER, image: tag(1), labels: {}, env: {}, binds: [], network: config.app.network, restartPolicy: 'no' });

    const uses = await docker.containerImages();
    const user = uses.find((c) => c.name === CONTAINER);
    expect(user).toMatchObject({ image: tag(1), state: 'created' });
    expect(user!.imageId).toMatch(/^sha256:/);
    expect(uses.find((c) => c.name === 'loop-api-blue')?.state).toBe('running');

    // The Engine itself refuses an image a container uses (no force).
    expect((await docker.removeImage(tag(1))).status).toBe('in_use');
    expect((await docker.removeImage(`${APP}:20200101000005-abc0005`)).status).toBe('removed');
    expect(await docker.imageExists(tag(4))).toBe(true);

    // Live = 4, nothing in the history, keep 1 other: 3 stays, 2 goes, 1 stays (in use).
    const report = await pruneAppImages({ docker, app: APP, retain: 1, liveImage: tag(4), history: [] });
    expect(report.removed).toEqual([tag(2)]);
    expect(report.deletedImages).toBe(1);
    expect(report.skipped).toEqual([]);
    expect(report.kept.map((k) => [k.version, k.reasons])).toEqual([
      ['0.0.4', ['live']],
      ['0.0.3', ['newest']],
      ['0.0.1', ['in_use']],
    ]);
    const left = (await docker.listImages(APP)).flatMap((i) => i.tags).sort();
    expect(left).toEqual([tag(1), tag(3), tag(4)]);
    expect((await docker.removeImage(tag(2))).status).toBe('gone');
  });
});

import { describe, expect, it } from 'vitest';
import {
  appImages,
  parseDeployTag,
  planImageRetention,
  previousImageId,
  resolveRollbackTarget,
  retainedVersions,
  type ImageRecord,
} from '../../../src/bluegreen/retention.js';
import type { HistoryRecord } from '../../../src/domain/index.js';
import type { ContainerImageUse } from '../../../src/docker/index.js';

const APP = 'loop-api';
const labels = (version: string, commit = 'abcdef0123') => ({ 'loop-ops.app': APP, 'loop-ops.version': version, 'loop-ops.commit': commit });

/** Image n: built at 2026-12-01 10:00:0n, version 1.0.n, id sha256:n… */
const img = (n: number, over: Partial<ImageRecord> = {}): ImageRecord => ({
  id: `sha256:${String(n).padStart(2, '0')}${'0'.repeat(62)}`,
  tags: [`${APP}:202612011000${String(n).padStart(2, '0')}-abc${String(n).padStart(4, '0')}`],
  created: 1_764_583_200 + n,
  labels: labels(`1.0.${n}`),
  ...over,
});
const tagOf = (n: number) => img(n).tags[0]!;
const idOf = (n: number) => img(n).id;

const deployRec = (n: number, over: Partial<HistoryRecord> = {}): HistoryRecord => ({
  id: `deploy-20261201-1000${String(n).padStart(2, '0')}-aaaa`,
  kind: 'deploy',
  fromColor: n % 2 ? 'blue' : 'green',
  toColor: n % 2 ? 'green' : 'blue',
  image: tagOf(n),
  version: `1.0.${n}`,
  commit: 'abcdef0123',
  who: 'token:ab',
  startedAt: `2026-12-01T10:00:${String(n).padStart(2, '0')}.000Z`,
  endedAt: `2026-12-01T10:01:${String(n).padStart(2, '0')}.000Z`,
  outcome: 'succeeded',
  message: null,
  ...over,
});

const use = (name: string, n: number, state = 'running'): ContainerImageUse => ({ name, image: tagOf(n), imageId: idOf(n), state });

/** Deploys 1..n succeeded in turn: live = n (green/blue alternating), previous = n-1. */
function afterDeploys(n: number) {
  const history = Array.from({ length: n }, (_, i) => deployRec(i + 1)).reverse();
  const images = Array.from({ length: n }, (_, i) => img(i + 1));
  const containers = [use(`${APP}-${n % 2 ? 'green' : 'blue'}`, n), use(`${APP}-${n % 2 ? 'blue' : 'green'}`, n - 1)];
  return { history, images, containers };
}

describe('deploy tags', () => {
  it('recognises only <app>:<14-digit time>-<commit>', () => {
    expect(parseDeployTag(APP, 'loop-api:20261201100001-abc1234')).toEqual({ tag: 'loop-api:20261201100001-abc1234', time: '20261201100001', commit: 'abc1234' });
    for (const t of ['loop-api:sandbox-initial', 'loop-api:latest', 'loop-api:2026120110-abc1234', 'loop-apix:20261201100001-abc1234', 'other/loop-api:20261201100001-abc1234', 'loop-api:20261201100001-ABC1234']) {
      expect(parseDeployTag(APP, t), t).toBeUndefined();
    }
  });
  it('an app name with dots is matched literally', () => {
    expect(parseDeployTag('my.app', 'myxapp:20261201100001-abc1234')).toBeUndefined();
    expect(parseDeployTag('my.app', 'my.app:20261201100001-abc1234')).toBeDefined();
  });
  it('lists only our labelled images, newest first, several tags of one image together', () => {
    const both = img(3, { tags: [tagOf(3), `${APP}:20261201100009-abc0003`, `${APP}:latest`] });
    const foreign = img(4, { labels: {} });
    const initial = img(5, { tags: [`${APP}:sandbox-initial`] });
    const list = appImages(APP, [img(1), both, foreign, initial, img(2)]);
    expect(list.map((i) => i.id)).toEqual([idOf(3), idOf(2), idOf(1)]);
    expect(list[0]!.tags).toEqual([`${APP}:20261201100009-abc0003`, tagOf(3)]);
    expect(list[0]!.version).toBe('1.0.3');
  });
});

describe('image retention plan', () => {
  it('keeps live, previous and the newest N others; prunes the rest, oldest first', () => {
    const { history, images, containers } = afterDeploys(8);
    const plan = planImageRetention({ app: APP, images, containers, liveImage: tagOf(8), history, retain: 2 });
    expect(plan.keep.map((k) => [k.version, k.reasons])).toEqual([
      ['1.0.8', ['live', 'in_use']],
      ['1.0.7', ['previous', 'in_use']],
      ['1.0.6', ['newest']],
      ['1.0.5', ['newest']],
    ]);
    expect(plan.prune.map((p) => p.tags)).toEqual([[tagOf(4)], [tagOf(3)], [tagOf(2)], [tagOf(1)]]);
  });

  it('never prunes an image a container uses, running or stopped, whatever its age', () => {
    const { history, images } = afterDeploys(6);
    const containers = [use('loop-api-blue', 6), use('loop-api-green', 5), use('debug-shell', 1, 'exited'), use('cron-job', 2, 'created')];
    const plan = planImageRetention({ app: APP, images, containers, liveImage: tagOf(6), history, retain: 0 });
    expect(plan.keep.map((k) => k.version)).toEqual(['1.0.6', '1.0.5', '1.0.2', '1.0.1']);
    expect(plan.keep.find((k) => k.version === '1.0.1')).toMatchObject({ reasons: ['in_use'], usedBy: ['debug-shell'] });
    expect(plan.prune.map((p) => p.version)).toEqual(['1.0.4', '1.0.3']);
  });

  it('a container known only by its image reference still protects the image', () => {
    const { history, images } = afterDeploys(4);
    const containers = [use('loop-api-blue', 4), use('loop-api-green', 3), { name: 'odd', image: tagOf(1), imageId: '', state: 'exited' }];
    const plan = planImageRetention({ app: APP, images, containers, liveImage: tagOf(4), history, retain: 0 });
    expect(plan.prune.map((p) => p.version)).toEqual(['1.0.2']);
  });

  it('keeps the previous version even after a failed deploy replaced the idle container', () => {
    // 1..5 succeeded (live 5 on green, 4 on blue); deploy 6 failed its health gate and replaced blue (stopped).
    const { history, images } = afterDeploys(5);
    const failed = deployRec(6, { outcome: 'failed' });
    const containers = [use('loop-api-green', 5), use('loop-api-blue', 6, 'exited')];
    const plan = planImageRetention({ app: APP, images: [...images, img(6)], containers, liveImage: tagOf(5), history: [failed, ...history], retain: 0 });
    expect(plan.keep.map((k) => [k.version, k.reasons])).toEqual([
      ['1.0.6', ['in_use']],
      ['1.0.5', ['live', 'in_use']],
      ['1.0.4', ['previous']],
    ]);
    expect(plan.prune.map((p) => p.version)).toEqual(['1.0.3', '1.0.2', '1.0.1']);
  });

  it('after a rollback to an old version the previous is the version rolled away from', () => {
    const { history, images } = afterDeploys(5);
    const rb: HistoryRecord = { ...deployRec(2), id: 'rollback-x', kind: 'rollback', fromColor: 'green', toColor: 'blue', startedAt: '2026-12-01T11:00:00.000Z' };
    const containers = [use('loop-api-blue', 2), use('loop-api-green', 5)];
    expect(previousImageId([rb, ...history], idOf(2), images)).toBe(idOf(5));
    const plan = planImageRetention({ app: APP, images, containers, liveImage: tagOf(2), history: [rb, ...history], retain: 1 });
    expect(plan.keep.map((k) => [k.version, k.reasons])).toEqual([
      ['1.0.5', ['previous', 'in_use']],
      ['1.0.4', ['newest']],
      ['1.0.2', ['live', 'in_use']],
    ]);
    expect(plan.prune.map((p) => p.version)).toEqual(['1.0.3', '1.0.1']);
  });

  it('never touches images that are not ours: other tags of the repository, unlabelled ones', () => {
    const { history, images, containers } = afterDeploys(3);
    const initial = img(9, { tags: ['loop-api:sandbox-initial'], labels: {} });
    const handmade = img(10, { labels: {} });
    const plan = planImageRetention({ app: APP, images: [...images, initial, handmade], containers, liveImage: tagOf(3), history, retain: 0 });
    expect(plan.prune.map((p) => p.id)).toEqual([idOf(1)]);
  });

  it('removes only our tags of an image that also has a foreign tag', () => {
    const { history, images, containers } = afterDeploys(3);
    images[0] = img(1, { tags: [tagOf(1), 'loop-api:keepme'] });
    const plan = planImageRetention({ app: APP, images, containers, liveImage: tagOf(3), history, retain: 0 });
    expect(plan.prune).toEqual([{ id: idOf(1), tags: [tagOf(1)], version: '1.0.1' }]);
  });

  it('counts one image built twice (same id, two tags) once, and keeps all its tags', () => {
    const { history, containers } = afterDeploys(4);
    const images = [img(1), img(2, { tags: [tagOf(2), `${APP}:20261201100003-abc0003`] }), img(4)];
    const plan = planImageRetention({ app: APP, images, containers: [containers[0]!], liveImage: tagOf(4), history, retain: 1 });
    // 3 is the same image as 2: "previous" resolves through its tag.
    expect(plan.keep.map((k) => [k.tags.length, k.reasons])).toEqual([
      [1, ['live', 'in_use']],
      [2, ['previous']],
      [1, ['newest']],
    ]);
    expect(plan.prune).toEqual([]);
  });

  it('with nothing beyond N, prunes nothing', () => {
    const { history, images, containers } = afterDeploys(4);
    expect(planImageRetention({ app: APP, images, containers, liveImage: tagOf(4), history, retain: 5 }).prune).toEqual([]);
  });
});

describe('rollback target', () => {
  const { history, images } = afterDeploys(6);
  // Retention removed 1 and 2.
  const kept = images.filter((i) => i.id !== idOf(1) && i.id !== idOf(2));

  it('finds a deployment id, a version or an image tag', () => {
    expect(resolveRollbackTarget(APP, deployRec(3).id, history, kept)).toMatchObject({ ok: true, image: tagOf(3), imageId: idOf(3), version: '1.0.3', deploymentId: deployRec(3).id });
    expect(resolveRollbackTarget(APP, '1.0.4', history, kept)).toMatchObject({ ok: true, image: tagOf(4), deploymentId: deployRec(4).id });
    expect(resolveRollbackTarget(APP, tagOf(5), history, kept)).toMatchObject({ ok: true, image: tagOf(5), deploymentId: deployRec(5).id });
  });

  it('a version deployed twice means its newest retained image', () => {
    const again = img(7, { labels: labels('1.0.3') });
    const h = [deployRec(7, { version: '1.0.3' }), ...history];
    expect(resolveRollbackTarget(APP, '1.0.3', h, [...kept, again])).toMatchObject({ ok: true, image: tagOf(7) });
  });

  it('says when the image was pruned, listing what is available', () => {
    for (const to of [deployRec(1).id, '1.0.2', tagOf(1)]) {
      const r = resolveRollbackTarget(APP, to, history, kept);
      expect(r.ok, to).toBe(false);
      if (r.ok) continue;
      expect(r.reason).toBe('pruned');
      expect(r.message).toMatch(/no longer on the NAS/);
      expect(r.message).toContain(`${deployRec(3).id} · version 1.0.3 · ${tagOf(3)}`);
      expect(r.available.map((v) => v.version)).toEqual(['1.0.6', '1.0.5', '1.0.4', '1.0.3']);
    }
  });

  it('says when the name is unknown', () => {
    const r = resolveRollbackTarget(APP, '9.9.9', history, kept);
    expect(r).toMatchObject({ ok: false, reason: 'unknown' });
    expect(!r.ok && r.message).toMatch(/no deployment, version or image "9.9.9".*\n  - deploy-/s);
    const restart: HistoryRecord = { ...deployRec(1), id: 'restart-1', kind: 'restart', image: null };
    expect(resolveRollbackTarget(APP, 'restart-1', [restart, ...history], kept)).toMatchObject({ ok: false, reason: 'unknown' });
    expect(resolveRollbackTarget(APP, 'x', [], [])).toMatchObject({ ok: false, reason: 'unknown', message: expect.stringContaining('(none)') });
  });

  it('lists retained versions even when the history no longer names them', () => {
    expect(retainedVersions(APP, kept, [])).toEqual(
      [6, 5, 4, 3].map((n) => ({ image: tagOf(n), imageId: idOf(n), version: `1.0.${n}`, commit: 'abcdef0123', deploymentId: null, deployedAt: null })),
    );
    expect(resolveRollbackTarget(APP, '1.0.4', [], kept)).toMatchObject({ ok: true, image: tagOf(4), deploymentId: null });
  });
});

/**
 * rollback (recreate).
 *
 * Without `to`: `<app>` and `<app>-previous` trade names (arrange.ts), the
 * current one is stopped and the previous one started, behind the health
 * gate; a failed gate trades them back. Nothing is rebuilt or recreated:
 * the previous container is the very one that served before the last deploy.
 *
 * With `to` (a deployment id, version or image tag of a kept image, as
 * status lists them): a new `<app>` from that image through the same
 * replace sequence as a deploy (the current one becomes `<app>-previous`).
 */
import { readHistory } from '../../bluegreen/journal.js';
import { OperationError, runOperation, type OperationOptions } from '../../bluegreen/operation.js';
import { resolveRollbackTarget, type RetainedVersion } from '../../bluegreen/retention.js';
import { LABEL_COMMIT, LABEL_VERSION } from '../../domain/index.js';
import type { RecreateServices } from '../../services.js';
import { arrange } from '../arrange.js';
import { quickRecreateGate, recreateGate, waitAppHealthy } from '../gate.js';
import { lastLogs } from '../logs.js';
import { appNames, type RecreatePhase } from '../names.js';
import { replace } from '../replace.js';
import { deployResult, pruneAfter, specFor, type RecreateDeployResult } from './deploy.js';

export interface RecreateRollbackResult {
  operationId: string;
  strategy: 'recreate';
  container: string;
  image: string;
  version: string | null;
  /** The image rolled back from, now in `<app>-previous` (stopped). */
  previousImage: string;
  swapGapMs: number | null;
  durationMs: number;
}

/** How far back the history is searched for a deployment id or version. */
const HISTORY_SEARCH = 500;

export async function rollback(svc: RecreateServices, o: Omit<OperationOptions, 'kind'>): Promise<RecreateRollbackResult> {
  const t0 = performance.now();
  const n = appNames(svc);
  const [cur, prev] = await Promise.all([svc.docker.inspect(n.live, o.signal), svc.docker.inspect(n.previous, o.signal)]);
  if (!prev) throw new OperationError(`there is no ${n.previous} container to roll back to`, 'Roll back to a kept version with `to` (status lists them), or deploy the ref you want.');
  if (!cur) throw new OperationError(`${n.live} does not exist`, `Run recover if an operation was cut off; ${n.previous} is there to be started.`);
  const version = prev.labels[LABEL_VERSION] ?? null;
  return runOperation<RecreatePhase, RecreateRollbackResult, RecreateServices>(
    svc,
    { ...o, kind: 'rollback', detail: { strategy: 'recreate', container: n.live }, facts: { image: prev.image, version, commit: prev.labels[LABEL_COMMIT] ?? null } },
    async (op) => {
      const { signal, progress } = op;
      await op.phase('swap', { fromId: cur.id, toId: prev.id, fromImage: cur.image, keepFrom: 'previous' });
      progress(`${n.previous} (${prev.image}) becomes ${n.live}; ${n.live} (${cur.image}) becomes ${n.previous}`);
      await arrange(svc, { live: prev.id, previous: cur.id }, signal);
      const swapStart = performance.now();
      await svc.docker.stop(cur.id, 10, signal);
      await svc.docker.start(prev.id, signal);
      const swapMs = performance.now() - swapStart;
      await op.phase('health');
      const h = await waitAppHealthy(svc, n.live, recreateGate(svc), { signal, onAttempt: (i, what) => progress(`health ${i}: ${what}`) });
      if (!h.ok) {
        const logs = await lastLogs(svc, n.live);
        await op.phase('restore');
        progress(`${prev.image} did not become healthy (${h.last}): putting ${cur.image} back`);
        await svc.docker.stop(prev.id, 5).catch(() => {});
        await arrange(svc, { live: cur.id, previous: prev.id });
        await svc.docker.start(cur.id);
        const back = await waitAppHealthy(svc, n.live, quickRecreateGate(svc), {});
        throw new OperationError(
          `${n.previous} (${prev.image}) did not become healthy (${h.last}); ${back.ok ? `${cur.image} serves again` : `${cur.image} was put back but is NOT healthy`}`,
          'Read the log lines; roll back to a kept version with `to`, or deploy a fix.',
          { operationId: op.id, phase: 'health', image: prev.image, serving: n.live, restoredHealthy: back.ok, lastLogLines: logs },
          back.ok ? 'rolled_back' : 'failed',
        );
      }
      const durationMs = Math.round(performance.now() - t0);
      const swapGapMs = h.firstOkMs !== undefined ? Math.round(swapMs + h.firstOkMs) : null;
      op.message = `to ${prev.image}${swapGapMs !== null ? `; swap gap ≤ ${swapGapMs} ms` : ''}`;
      progress(`rolled back to ${version ?? prev.image} in ${durationMs} ms`);
      return { operationId: op.id, strategy: 'recreate', container: n.live, image: prev.image, version, previousImage: cur.image, swapGapMs, durationMs };
    },
  );
}

/** A version that cannot be rolled back to: unknown, or its image was pruned. */
export interface RollbackToRefusal {
  reason: 'unknown' | 'pruned';
  available: RetainedVersion[];
}

export async function rollbackTo(svc: RecreateServices, to: string, o: Omit<OperationOptions, 'kind'>): Promise<RecreateDeployResult & { deploymentId: string | null }> {
  const app = svc.config.app.name;
  const n = appNames(svc);
  const [history, images, live] = await Promise.all([readHistory(svc.pool, svc.config.state.dir, HISTORY_SEARCH, o.signal), svc.docker.listImages(app, o.signal), svc.docker.inspect(n.live, o.signal)]);
  const t = resolveRollbackTarget(app, to, history, images);
  if (!t.ok) {
    throw new OperationError<RollbackToRefusal>(
      t.message,
      t.available.length ? 'Give one of the retained versions above (deployment id, version or image), or deploy the ref you want.' : 'No version is kept yet: deploy the ref you want.',
      { reason: t.reason, available: t.available },
    );
  }
  if (live?.imageId === t.imageId && live.state === 'running') throw new OperationError(`${t.version ?? t.image} is already live`, 'Nothing to do; status shows the versions kept for rollback.');
  return runOperation<RecreatePhase, RecreateDeployResult & { deploymentId: string | null }, RecreateServices>(
    svc,
    { ...o, kind: 'rollback', detail: { strategy: 'recreate', container: n.live, image: t.image, target: to }, facts: { image: t.image, version: t.version, commit: t.commit } },
    async (op) => {
      const labels: Record<string, string> = {};
      if (t.version) labels[LABEL_VERSION] = t.version;
      if (t.commit) labels[LABEL_COMMIT] = t.commit;
      op.progress(`recreating ${n.live} from ${t.image}${t.deploymentId ? ` (${t.deploymentId})` : ''}`);
      const spec = await specFor(op, t.image, labels);
      const r = await replace(op, { spec, outgoing: 'previous', gate: recreateGate(svc) });
      op.message = `to ${t.deploymentId ?? t.image}${r.swapGapMs !== null ? `; swap gap ≤ ${r.swapGapMs} ms` : ''}`;
      const images = await pruneAfter(op, t.image);
      return { ...deployResult(op, r, { image: t.image, version: t.version ?? 'unknown', commit: t.commit ?? '' }, live?.image ?? null, images, {}), deploymentId: t.deploymentId };
    },
  );
}

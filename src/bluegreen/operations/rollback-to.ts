/**
 * rollback to a version (Kamal's `rollback VERSION`): a retained image,
 * named by a deployment id, a version or an image tag from the history, is
 * deployed to the idle color through the same cut-over as a deploy (start →
 * health gate → switch → verify), with the live color's env, volumes and
 * network: zero downtime, no rebuild.
 */
import { type Color, colorContainerName, LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION, otherColor } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { readHistory } from '../journal.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { resolveRollbackTarget, type RetainedVersion } from '../retention.js';
import { cutover, CutoverFailed, type CutoverPhase } from './cutover.js';
import { schedulePreviousStop } from './versions.js';
import { lastLogs, liveColor, msRound } from './shared.js';
import { deployCutover } from './deploy.js';

export type RollbackToPhase = 'locked' | CutoverPhase;

/** How far back the history is searched for a deployment id or version. */
const HISTORY_SEARCH = 500;

export interface RollbackToResult {
  operationId: string;
  fromColor: Color;
  toColor: Color;
  liveColor: Color;
  image: string;
  version: string | null;
  commit: string | null;
  /** The deployment that built the image, when the history still has it. */
  deploymentId: string | null;
  /** deploy.keepPrevious: running, stopped or minutes. */
  previousKept: string;
  /** With timed retention: when the previous color is stopped. */
  previousStopsAt: string | null;
  durationMs: number;
  timingsMs: Record<string, number>;
}

/** A version that cannot be rolled back to: unknown, or its image was pruned. */
export interface RollbackToRefusal {
  reason: 'unknown' | 'pruned';
  available: RetainedVersion[];
}

async function target(svc: Services, to: string, signal?: AbortSignal) {
  const app = svc.config.app.name;
  const [history, images] = await Promise.all([readHistory(svc.pool, svc.config.state.dir, HISTORY_SEARCH, signal), svc.docker.listImages(app, signal)]);
  const t = resolveRollbackTarget(app, to, history, images);
  if (!t.ok) {
    throw new OperationError<RollbackToRefusal>(
      t.message,
      t.available.length ? 'Give one of the retained versions above (deployment id, version or image), or deploy the ref you want.' : 'No version is kept yet: deploy the ref you want.',
      { reason: t.reason, available: t.available },
    );
  }
  return t;
}

export async function rollbackTo(svc: Services, to: string, o: Omit<OperationOptions, 'kind'>): Promise<RollbackToResult> {
  const t0 = performance.now();
  const app = svc.config.app;
  const from = await liveColor(svc, o.signal);
  const toColor = otherColor(from);
  const toName = colorContainerName(app.name, toColor);
  const fromName = colorContainerName(app.name, from);
  const t = await target(svc, to, o.signal);
  const live = await svc.docker.inspect(fromName, o.signal);
  if (live?.imageId === t.imageId) {
    throw new OperationError(`${t.version ?? t.image} is already live on ${from}`, 'Nothing to do; status shows the versions kept for rollback.');
  }
  return runOperation<RollbackToPhase, RollbackToResult>(
    svc,
    {
      ...o,
      kind: 'rollback',
      detail: { fromColor: from, toColor, container: toName, image: t.image, target: to },
      facts: { fromColor: from, toColor, image: t.image, version: t.version, commit: t.commit },
    },
    async (op) => {
      // The lock is ours now: the image may have gone since we looked (a deploy's pruning).
      if (!(await svc.docker.imageExists(t.image, op.signal))) {
        const again = await target(svc, to, op.signal);
        if (again.image !== t.image) throw new OperationError(`${t.image} disappeared while the lock was taken; try again`, 'status lists the retained versions.');
      }
      const base = await svc.docker.containerSpec(fromName, op.signal);
      const labels: Record<string, string> = { [LABEL_DEPLOYMENT]: op.id };
      if (t.version) labels[LABEL_VERSION] = t.version;
      if (t.commit) labels[LABEL_COMMIT] = t.commit;
      const c = deployCutover(svc, from, t.image, base, labels);
      op.progress(`rolling back to ${t.version ?? t.image}${t.deploymentId ? ` (${t.deploymentId})` : ''} on ${toColor}`);
      try {
        const r = await cutover(op, c);
        const previousStopsAt = await schedulePreviousStop(op, from);
        op.message = `to ${t.deploymentId ?? t.image}`;
        const durationMs = Math.round(performance.now() - t0);
        op.progress(`rolled back to ${t.version ?? t.image} on ${toColor} in ${durationMs} ms`);
        return {
          operationId: op.id,
          fromColor: from,
          toColor,
          liveColor: toColor,
          image: t.image,
          version: t.version,
          commit: t.commit,
          deploymentId: t.deploymentId,
          previousKept: svc.config.deploy.keepPrevious,
          previousStopsAt,
          durationMs,
          timingsMs: msRound(r.timingsMs),
        };
      } catch (e) {
        if (!(e instanceof CutoverFailed)) throw e;
        throw new OperationError(e.message, e.hint, { operationId: op.id, phase: e.phase, liveColor: e.liveColor, lastLogLines: await lastLogs(svc, toName) }, e.switchedBack ? 'rolled_back' : 'failed');
      }
    },
  );
}

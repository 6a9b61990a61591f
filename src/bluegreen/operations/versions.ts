/**
 * What follows a good cut-over to a new image (deploy, rollback to a
 * version): the old color kept running, stopped, or scheduled to stop
 * (deploy.keepPrevious), and, after a deploy, old images pruned
 * (deploy.retainImages). Neither may fail the operation: traffic is already
 * on the new version and verified.
 */
import { keepPreviousPolicy } from '../../config.js';
import { type Color, colorContainerName, LABEL_DEPLOYMENT } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { readHistory } from '../journal.js';
import type { OperationContext } from '../operation.js';
import { clearPreviousStop, scheduleFor, writePreviousStop } from '../previous-color.js';
import { pruneAppImages, type PruneReport } from '../prune.js';

/** What the cut-over does with the old color itself: only "stopped" stops it at once. */
export function retireMode(svc: Services): 'running' | 'stopped' {
  return svc.config.deploy.keepPrevious === 'stopped' ? 'stopped' : 'running';
}

/**
 * With keepPrevious "<minutes>": records on the NAS when the old color is to
 * be stopped and wakes this server then. Otherwise forgets any such record
 * (the policy may have changed since).
 */
export async function schedulePreviousStop<P extends string>(op: OperationContext<P>, from: Color): Promise<string | null> {
  const { svc } = op;
  const policy = keepPreviousPolicy(svc.config.deploy.keepPrevious);
  const stateDir = svc.config.state.dir;
  try {
    if (policy.mode !== 'timed') {
      await clearPreviousStop(svc.pool, stateDir);
      return null;
    }
    const container = colorContainerName(svc.config.app.name, from);
    const info = await svc.docker.inspect(container, op.signal);
    const rec = scheduleFor({ container, color: from, deploymentId: info?.labels[LABEL_DEPLOYMENT] ?? null, minutes: policy.minutes, setBy: op.id });
    await writePreviousStop(svc.pool, stateDir, rec);
    svc.previousColor?.arm(rec.stopAt);
    op.progress(`${container} keeps running until ${rec.stopAt} (deploy.keepPrevious ${policy.minutes} min), then stops`);
    return rec.stopAt;
  } catch (e) {
    op.progress(`could not schedule the stop of the previous color: ${(e as Error).message}`);
    svc.log.warn({ operationId: op.id, err: (e as Error).message }, 'could not schedule the stop of the previous color');
    return null;
  }
}

/** Prunes old images of the app after a good deploy; reports instead of failing. */
export async function pruneAfterDeploy<P extends string>(op: OperationContext<P>, liveImage: string): Promise<PruneReport | { error: string }> {
  const { svc } = op;
  try {
    const history = await readHistory(svc.pool, svc.config.state.dir, 100, op.signal);
    const r = await pruneAppImages({ docker: svc.docker, app: svc.config.app.name, retain: svc.config.deploy.retainImages, liveImage, history }, op.signal);
    if (r.removed.length) op.progress(`pruned ${r.removed.length} old image(s): ${r.removed.join(', ')}; ${r.kept.length} kept`);
    return r;
  } catch (e) {
    svc.log.warn({ operationId: op.id, err: (e as Error).message }, 'image pruning failed');
    op.progress(`image pruning failed (the deploy stands): ${(e as Error).message}`);
    return { error: (e as Error).message.slice(0, 300) };
  }
}

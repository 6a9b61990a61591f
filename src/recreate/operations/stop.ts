/** stop (recreate): `<app>` (the app stops answering: only with force) or `<app>-previous`, confirmed by name. */
import { OperationError, runOperation, type OperationOptions } from '../../bluegreen/operation.js';
import type { RecreateServices } from '../../services.js';
import { appNames, type RecreatePhase } from '../names.js';

export interface RecreateStopRequest {
  container: string;
  confirm: string;
  /** Allow stopping `<app>` itself (an outage). */
  force: boolean;
}

export interface RecreateStopResult {
  operationId: string;
  container: string;
  state: string;
  wasLive: boolean;
}

export async function stop(svc: RecreateServices, req: RecreateStopRequest, o: Omit<OperationOptions, 'kind'>): Promise<RecreateStopResult> {
  const n = appNames(svc);
  const allowed = [n.live, n.previous];
  if (!allowed.includes(req.container)) throw new OperationError(`container must be one of: ${allowed.join(', ')}`, 'status lists the containers.');
  if (req.confirm !== req.container) {
    throw new OperationError(`confirm must repeat the container name exactly ("${req.container}")`, 'Stopping is destructive: repeat the name in confirm to proceed.');
  }
  const isLive = req.container === n.live;
  if (isLive && !req.force) {
    throw new OperationError(
      `${req.container} is the app itself: stopping it makes every request to it fail`,
      `Pass force: true if you really want the outage (restart or rollback bring it back; ${n.previous} is the previous version).`,
    );
  }
  return runOperation<RecreatePhase, RecreateStopResult, RecreateServices>(svc, { ...o, kind: 'stop', detail: { strategy: 'recreate', container: req.container } }, async (op) => {
    await op.phase('stop');
    await svc.docker.stop(req.container, 10, op.signal);
    const info = await svc.docker.inspect(req.container, op.signal);
    op.facts.image = info?.image ?? null;
    op.message = `stopped ${req.container}${isLive ? ' (the app: requests fail now)' : ''}`;
    return { operationId: op.id, container: req.container, state: info?.state ?? 'unknown', wasLive: isLive };
  });
}

/** stop: one container of the app (a color) or a watched sibling, confirmed by name. */
import { colorContainerName } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { liveColor } from './shared.js';

export interface StopRequest {
  container: string;
  confirm: string;
  /** Allow stopping the live color (an outage). */
  force: boolean;
}

export interface StopResult {
  operationId: string;
  container: string;
  state: string;
  wasLive: boolean;
}

export async function stop(svc: Services, req: StopRequest, o: Omit<OperationOptions, 'kind'>): Promise<StopResult> {
  const app = svc.config.app;
  const allowed = [colorContainerName(app.name, 'blue'), colorContainerName(app.name, 'green'), ...app.watch];
  if (!allowed.includes(req.container)) throw new OperationError(`container must be one of: ${allowed.join(', ')}`, 'status lists the containers.');
  if (req.confirm !== req.container) {
    throw new OperationError(`confirm must repeat the container name exactly ("${req.container}")`, 'Stopping is destructive: repeat the name in confirm to proceed.');
  }
  const live = await liveColor(svc, o.signal).catch(() => undefined);
  const isLive = live !== undefined && req.container === colorContainerName(app.name, live);
  if (isLive && !req.force) {
    throw new OperationError(
      `${req.container} is the live color: stopping it makes every request through nginx fail`,
      'Roll back or deploy first so the other color is live; or pass force: true if you really want the outage.',
    );
  }
  return runOperation<'locked' | 'stop', StopResult>(svc, { ...o, kind: 'stop', detail: { container: req.container } }, async (op) => {
    await op.phase('stop');
    await svc.docker.stop(req.container, 10, op.signal);
    const info = await svc.docker.inspect(req.container, op.signal);
    op.facts.image = info?.image ?? null;
    op.message = `stopped ${req.container}${isLive ? ' (live: traffic fails now)' : ''}`;
    return { operationId: op.id, container: req.container, state: info?.state ?? 'unknown', wasLive: isLive };
  });
}

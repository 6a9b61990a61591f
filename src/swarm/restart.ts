/**
 * restart on a Swarm target: a rolling restart (ForceUpdate + 1 replaces
 * every task with the same spec), in the update policy's order: start-first,
 * one at a time, so the service keeps serving throughout.
 */
import { OperationError, runOperation, type OperationOptions } from '../bluegreen/operation.js';
import { specWithForceUpdate, specWithSafeUpdates } from '../docker/swarm-requests.js';
import type { SwarmContext } from './app.js';
import { failedTaskReport, updateService } from './update.js';

export interface SwarmRestartResult {
  operationId: string;
  service: string;
  image: string;
  tasksReplaced: number;
  update: { state: string; message: string | null };
  timingsMs: Record<string, number>;
}

export async function swarmRestart(ctx: SwarmContext, o: Omit<OperationOptions, 'kind'>): Promise<SwarmRestartResult> {
  const { svc, app } = ctx;
  return runOperation<'locked' | 'restart', SwarmRestartResult>(svc, { ...o, kind: 'restart', detail: { service: app.service } }, async (op) => {
    await op.phase('restart');
    op.progress(`rolling restart of ${app.service} (start-first, one task at a time)`);
    const r = await updateService(ctx, op, {
      change: { spec: (cur) => specWithSafeUpdates(specWithForceUpdate(cur.spec), app.updateMonitorSeconds) },
      image: (cur) => cur.image,
    });
    Object.assign(op.facts, { image: r.service.image });
    const update = r.status ? { state: r.status.state, message: r.status.message } : { state: r.end, message: null };
    if (r.end !== 'completed') {
      const failedTask = await failedTaskReport(ctx, r.tasks, r.service.image, op.signal);
      throw new OperationError(
        `the rolling restart of ${app.service} ended ${r.end}${update.message ? `: ${update.message}` : ''}`,
        'status shows each task; a task that no longer starts has its logs in failedTask.',
        { operationId: op.id, service: app.service, update, failedTask },
        r.end === 'rolled_back' ? 'rolled_back' : 'failed',
      );
    }
    const forced = r.service.forceUpdate;
    return {
      operationId: op.id,
      service: app.service,
      image: r.service.image,
      tasksReplaced: r.tasks.filter((t) => t.forceUpdate === forced && t.desiredState === 'running').length,
      update,
      timingsMs: { restart: r.timingsMs.update },
    };
  });
}

/**
 * rollback on a Swarm target: the manager's own return to the service's
 * previous spec (`rollback=previous`: what `docker service rollback` does),
 * in the rollback policy's order (start-first, one task at a time), followed
 * to its end. The previous spec is the one before the last update: after a
 * rollback it is the spec rolled back from, so a second rollback goes
 * forward again (as on one host a second rollback switches back). After an
 * automatic rollback the manager keeps none: rollback is then refused.
 */
import { OperationError, runOperation, type OperationOptions } from '../bluegreen/operation.js';
import { readSmallFiles } from '../ssh/files.js';
import { LABEL_VERSION, historyFile, parseJsonLines, type HistoryRecord } from '../domain/index.js';
import type { SwarmContext } from './app.js';
import { failedTaskReport, updateService, type FailedTaskReport } from './update.js';

export type SwarmRollbackPhase = 'locked' | 'rollback';

export interface SwarmRollbackResult {
  operationId: string;
  service: string;
  fromImage: string;
  image: string;
  version: string | null;
  update: { state: string; message: string | null };
  timingsMs: Record<string, number>;
}

export async function swarmRollback(ctx: SwarmContext, o: Omit<OperationOptions, 'kind'>): Promise<SwarmRollbackResult> {
  const { svc, app } = ctx;
  // Refused before the lock: there is nothing to go back to.
  const current = await svc.docker.inspectService(app.service, o.signal);
  if (!current) throw new OperationError(`service ${app.service} does not exist on the Swarm manager`, 'Check the target and app names (status).');
  if (!current.previousImage) {
    throw new OperationError(`service ${app.service} has no previous spec to roll back to`, 'It was never updated since it was created: deploy a version first.');
  }
  // After an automatic rollback the manager's previous spec is the version that failed: going "back" would
  // put it in. Our own history knows (the manager's status reads the same after either kind of rollback).
  const [historyText] = await readSmallFiles(svc.pool, [{ path: historyFile(app.stateDir), maxBytes: 64 * 1024, tail: true }], o.signal);
  if (refusedBecauseFailed(parseJsonLines<HistoryRecord>(historyText), current.previousImage)) {
    throw new OperationError(
      `the previous spec of ${app.service} is ${current.previousImage}, the version whose deploy failed and was rolled back automatically`,
      `${current.image} already serves; to go to another version, deploy its ref.`,
    );
  }
  return runOperation<SwarmRollbackPhase, SwarmRollbackResult>(svc, { ...o, kind: 'rollback', detail: { service: app.service } }, async (op) => {
    await op.phase('rollback', { fromImage: current.image, toImage: current.previousImage! });
    op.progress(`rolling ${app.service} back from ${current.image} to ${current.previousImage} (the previous spec)`);
    const r = await updateService(ctx, op, { change: { rollback: true }, image: (cur) => cur.previousImage ?? undefined });
    const version = r.service.labels[LABEL_VERSION] ?? null;
    Object.assign(op.facts, { image: r.service.image, version });
    const update = r.status ? { state: r.status.state, message: r.status.message } : { state: r.end, message: null };
    // A manual rollback ends as rollback_completed (what `end` calls rolled_back): that is its success.
    if (r.end !== 'rolled_back' && r.end !== 'completed') {
      const failedTask: FailedTaskReport = await failedTaskReport(ctx, r.tasks, current.previousImage ?? undefined, op.signal);
      throw new OperationError(
        `the rollback of ${app.service} ${r.end === 'paused' ? `paused: ${update.message ?? update.state}` : `did not finish within ${app.updateTimeoutSeconds}s`}`,
        'Tasks of both specs may be running: status shows each task; the previous image may no longer start (see failedTask).',
        { operationId: op.id, service: app.service, update, failedTask },
      );
    }
    op.message = `rolled back to ${r.service.image}`;
    return {
      operationId: op.id,
      service: app.service,
      fromImage: current.image,
      image: r.service.image,
      version,
      update,
      timingsMs: { rollback: r.timingsMs.update },
    };
  });
}

/** The newest operation on the app was a deploy of `previousImage` that the manager rolled back (or that failed). */
export function refusedBecauseFailed(history: HistoryRecord[], previousImage: string): boolean {
  const last = [...history].reverse().find((h) => h.kind === 'deploy' || h.kind === 'rollback');
  return !!last && last.kind === 'deploy' && last.image === previousImage && last.outcome !== 'succeeded';
}

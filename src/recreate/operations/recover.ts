/**
 * recover (recreate): finishes or undoes a recreate operation whose holder
 * is gone, under its own id and start time, like the blue-green recover:
 * the stale lock is taken over by compare-and-swap, the journal says where
 * it stopped and which containers it dealt with (by id), and the recreate
 * rows of recover-table.ts say what to do. The aim is always the same: a
 * healthy `<app>` serving, the old version kept as `<app>-previous`, no
 * container of the operation's own left behind.
 */
import { runOperation, type OperationOptions } from '../../bluegreen/operation.js';
import { NOTHING_TO_RECOVER, takeoverOf, type RecoverResult } from '../../bluegreen/operations/recover.js';
import { recreateCompensation } from '../../bluegreen/recover-table.js';
import { LABEL_APP } from '../../domain/index.js';
import type { RecreateServices } from '../../services.js';
import { arrange } from '../arrange.js';
import { quickRecreateGate, waitAppHealthy } from '../gate.js';
import { appNames, type RecreatePhase } from '../names.js';
import type { RecreateOp } from '../replace.js';
import { LABEL_OPERATION } from '../spec.js';

export type RecreateRecoverResult = Omit<RecoverResult, 'liveColor'> & { serving: string | null };

/** Undo: what the operation created goes, fromId serves again as `<app>`. */
async function putBack(op: RecreateOp, d: Record<string, string>, actions: string[]): Promise<void> {
  const { svc, signal } = op;
  const n = appNames(svc);
  const fromId = d.fromId || undefined;
  const made = await svc.docker.listContainers({ labels: [`${LABEL_OPERATION}=${op.id}`, `${LABEL_APP}=${n.app}`] }, signal);
  for (const c of made) {
    if (c.id === fromId) continue;
    await svc.docker.remove(c.id, { force: true, signal });
    actions.push(`removed ${c.name} (${c.image}), created by the interrupted ${op.kind}`);
  }
  if (!fromId) {
    actions.push('there was no container before the operation: nothing to put back');
    return;
  }
  // What <app>-previous held before: the container a new version moved aside, or the one a rollback swapped in.
  const prevId = d.oldPreviousId || (d.toId && d.toId !== fromId && !made.some((c) => c.id === d.toId) ? d.toId : '');
  const prev = prevId ? await svc.docker.inspect(prevId, signal) : undefined;
  if (prev?.state === 'running') await svc.docker.stop(prev.id, 10, signal);
  const renamed = await arrange(svc, { live: fromId, previous: prev ? prev.id : undefined }, signal);
  for (const r of renamed) actions.push(`renamed ${r.from} to ${r.to}`);
  await svc.docker.start(fromId, signal);
  const h = await waitAppHealthy(svc, n.live, quickRecreateGate(svc), { signal });
  actions.push(h.ok ? `${n.live} (the container from before the operation) serves and is healthy` : `WARNING: ${n.live} was put back but is not healthy (${h.last})`);
}

/** The operation's own last steps: the old container kept (stopped) as previous, or removed after a restart. */
async function complete(op: RecreateOp, d: Record<string, string>, actions: string[]): Promise<void> {
  const { svc, signal } = op;
  const fromId = d.fromId || undefined;
  const toId = d.toId || undefined;
  if (!toId || !fromId || fromId === toId) return;
  // The old previous a new version displaced goes once the new version is kept.
  const displaced = d.oldPreviousId ? await svc.docker.inspect(d.oldPreviousId, signal) : undefined;
  if (displaced) {
    await svc.docker.remove(displaced.id, { force: true, signal });
    actions.push(`removed ${displaced.name} (${displaced.image}), the previous version before the operation`);
  }
  const from = await svc.docker.inspect(fromId, signal);
  if (!from) return;
  if (d.keepFrom === 'remove') {
    await svc.docker.remove(fromId, { force: true, signal });
    actions.push(`removed the replaced container ${from.name}`);
    return;
  }
  if (from.state === 'running') await svc.docker.stop(fromId, 10, signal);
  const renamed = await arrange(svc, { live: toId, previous: fromId }, signal);
  for (const r of renamed) actions.push(`renamed ${r.from} to ${r.to}`);
}

/** Keep the new container if it serves healthily as `<app>`; otherwise undo. */
async function keepIfHealthy(op: RecreateOp, d: Record<string, string>, actions: string[]): Promise<void> {
  const { svc, signal } = op;
  const n = appNames(svc);
  const to = d.toId ? await svc.docker.inspect(d.toId, signal) : undefined;
  if (to?.state === 'running') {
    const renamed = await arrange(svc, { live: to.id }, signal);
    for (const r of renamed) actions.push(`renamed ${r.from} to ${r.to}`);
    const h = await waitAppHealthy(svc, n.live, quickRecreateGate(svc), { signal });
    if (h.ok) {
      actions.push(`${n.live} (${to.image}) is running and healthy: kept`);
      await complete(op, d, actions);
      return;
    }
    actions.push(`${n.live} (${to.image}) is not healthy (${h.last})`);
  }
  await putBack(op, d, actions);
}

export async function recover(svc: RecreateServices, o: Omit<OperationOptions, 'kind'>): Promise<RecreateRecoverResult> {
  const t = await takeoverOf(svc, o.signal);
  if (!t) return { recovered: false, operationId: null, phaseWhenCut: null, serving: null, actions: [], message: NOTHING_TO_RECOVER };
  const { kind, detail, phaseWhenCut, actions } = t;
  return runOperation<RecreatePhase, RecreateRecoverResult, RecreateServices>(
    svc,
    {
      ...o,
      ...t.options,
      facts: { image: detail.image ?? null, version: detail.version ?? null, commit: detail.commit ?? null },
    },
    async (op) => {
      await op.phase('recover', { recoveredBy: o.who.caller, phaseWhenCut: phaseWhenCut ?? 'unknown' });
      for (const action of recreateCompensation(kind, phaseWhenCut ?? 'locked')) {
        if (action === 'put_back') await putBack(op, detail, actions);
        if (action === 'keep_if_healthy') await keepIfHealthy(op, detail, actions);
        if (action === 'complete') await complete(op, detail, actions);
      }
      if (!actions.length) actions.push(`nothing to undo at phase ${phaseWhenCut ?? 'unknown'}`);
      actions.push(`released the lock of ${kind} ${op.id}`);
      op.successAs = { outcome: 'recovered', phase: 'recovered' };
      op.message = `cut off at ${phaseWhenCut ?? 'unknown'}; ${actions.join('; ')}`;
      op.progress(actions.join('; '));
      const live = await svc.docker.inspect(appNames(svc).live, op.signal);
      return { recovered: true, operationId: op.id, phaseWhenCut, serving: live?.state === 'running' ? `${live.name} (${live.image})` : null, actions, message: null };
    },
  );
}

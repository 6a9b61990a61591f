/**
 * The recreate sequence every operation that brings up a new `<app>` shares
 * (deploy, rollback to a kept image, restart):
 *
 *   replace: old `<app>-previous` removed, `<app>` renamed out of the way (still serving)
 *   create:  the new `<app>` created (not started: creating binds no port)
 *   swap:    the old one stopped, the new one started    ← the gap in service begins
 *   health:  the gate                                     ← and ends at its first success
 *   then:    the old one kept stopped as `<app>-previous` (deploy, rollback to) or removed (restart)
 *   or:      restore: the new one removed, the old one renamed back and started
 *
 * Only one container can hold the host port, so the old one must stop before
 * the new one starts: unlike blue-green, this strategy drops requests for the
 * length of the swap (measured and returned as `swapGapMs`). Every phase is
 * journaled with the container ids recover needs to finish or undo it.
 */
import type { ContainerInfo, ContainerSpec } from '../docker/index.js';
import { OperationError, type OperationContext } from '../bluegreen/operation.js';
import type { HealthGate } from '../bluegreen/types.js';
import type { RecreateServices } from '../ops/services.js';
import { lastLogs } from './logs.js';
import { appNames, type RecreatePhase } from './names.js';
import { quickRecreateGate, waitAppHealthy, type GateResult } from './gate.js';

export type RecreateOp = OperationContext<RecreatePhase, RecreateServices>;

export interface Replacement {
  /** The new `<app>` (labelled with the operation's id by the caller). */
  spec: ContainerSpec;
  /** The container it replaces: kept stopped as `<app>-previous` (a new version), or removed (a restart of the same one). */
  outgoing: 'previous' | 'remove';
  gate: HealthGate;
}

export interface ReplaceResult {
  /** The container serving now (short id). */
  containerId: string;
  /** The one it replaced, if any: now `<app>-previous` (stopped) or removed. */
  replacedId: string | null;
  /** From stopping the old container to the new one's first good probe: an upper bound of the gap in service seen from the NAS. */
  swapGapMs: number | null;
  gate: Pick<GateResult, 'attempts' | 'last' | 'by'>;
  timingsMs: Record<string, number>;
}

/** What a failed replacement reports beside its message. */
export interface ReplaceFailure {
  operationId: string;
  phase: RecreatePhase;
  image: string;
  /** Serving now: the old container put back, or nothing. */
  serving: string | null;
  restoredHealthy: boolean | null;
  lastLogLines: string[];
}

/** The old version restored after a failed gate, healthy again? */
async function restoreOld(op: RecreateOp, live: ContainerInfo | undefined, newName: string): Promise<boolean | null> {
  const { svc, signal } = op;
  const n = appNames(svc);
  await op.phase('restore');
  await svc.docker.stop(newName, 5).catch(() => {});
  await svc.docker.remove(newName, { force: true });
  if (!live) return null;
  op.progress(`putting ${live.image} back as ${n.live}`);
  await svc.docker.rename(live.id, n.live);
  await svc.docker.start(n.live);
  const h = await waitAppHealthy(svc, n.live, quickRecreateGate(svc), { signal: signal.aborted ? undefined : signal });
  return h.ok;
}

export async function replace(op: RecreateOp, r: Replacement): Promise<ReplaceResult> {
  const { svc, signal, progress } = op;
  const { docker } = svc;
  const n = appNames(svc);
  const timings: Record<string, number> = {};
  let t0 = performance.now();

  // 1. make room: `<app>` keeps serving under its new name.
  const [live, prev, outgoing] = await Promise.all([docker.inspect(n.live, signal), docker.inspect(n.previous, signal), docker.inspect(n.outgoing, signal)]);
  if (outgoing) {
    throw new OperationError(`${n.outgoing} exists: an earlier operation was cut off mid-swap`, 'Run recover first (it puts the right container back as the app), then try again.');
  }
  const aside = r.outgoing === 'previous' ? n.previous : n.outgoing;
  await op.phase('replace', { fromId: live?.id ?? '', fromImage: live?.image ?? '', keepFrom: r.outgoing, oldPreviousId: r.outgoing === 'previous' ? (prev?.id ?? '') : '' });
  if (r.outgoing === 'previous' && prev) {
    progress(`removing the old ${n.previous} (${prev.image})`);
    await docker.remove(prev.id, { force: true, signal });
  }
  if (live) {
    progress(`renaming ${n.live} to ${aside} (it keeps serving)`);
    await docker.rename(live.id, aside, signal);
  }

  // 2. the new container, created but not started: creating binds no port.
  await op.phase('create', { image: r.spec.image });
  progress(`creating ${n.live} from ${r.spec.image}`);
  const fail = async (message: string, hint: string, restored: boolean | null, phase: RecreatePhase, logs: string[]): Promise<never> => {
    const failure: ReplaceFailure = { operationId: op.id, phase, image: r.spec.image, serving: restored === null ? null : n.live, restoredHealthy: restored, lastLogLines: logs };
    throw new OperationError(message, hint, failure, restored ? 'rolled_back' : 'failed');
  };
  let newId: string;
  try {
    newId = (await docker.create(r.spec, signal)).slice(0, 12);
  } catch (e) {
    if (signal.aborted) throw e;
    const restored = live ? (await docker.rename(live.id, n.live).then(() => true, () => false)) : null;
    return fail(`creating ${n.live} failed: ${(e as Error).message}`, 'Nothing else changed: the old container serves as before.', restored, 'create', []);
  }
  await op.note({ toId: newId });
  timings.prepare = performance.now() - t0;

  // 3. the swap: from here until the gate passes, requests to the app fail.
  t0 = performance.now();
  await op.phase('swap');
  if (live) {
    progress(`stopping the old container (${live.image}): the app does not answer until the new one is up`);
    await docker.stop(live.id, 10, signal);
  }
  try {
    await docker.start(n.live, signal);
  } catch (e) {
    if (signal.aborted) throw e;
    const logs = await lastLogs(svc, n.live);
    const restored = await restoreOld(op, live, n.live);
    return fail(`starting ${n.live} failed: ${(e as Error).message}`, 'The old version was put back; read the log lines and fix the image or the config.', restored, 'swap', logs);
  }
  timings.swap = performance.now() - t0;

  // 4. the gate
  t0 = performance.now();
  await op.phase('health');
  const h = await waitAppHealthy(svc, n.live, r.gate, { signal, onAttempt: (i, what) => progress(`health ${i}/${r.gate.attempts}: ${what}`) });
  timings.health = performance.now() - t0;
  if (!h.ok) {
    const logs = await lastLogs(svc, n.live);
    progress(`${n.live} did not become healthy (${h.last}): putting the old version back`);
    const restored = await restoreOld(op, live, n.live);
    return fail(
      `${n.live} from ${r.spec.image} did not become healthy after ${h.attempts} attempts (${h.last}); ${restored ? 'the old version serves again' : restored === null ? 'there was no old version to put back' : 'the old version was put back but is NOT healthy'}`,
      restored ? 'Read the last log lines below (the new container was removed); fix and deploy again.' : 'Run status and logs: the app is not serving.',
      restored,
      'health',
      logs,
    );
  }
  // The swap's own time (stop, start) plus the wait for the first good probe.
  const swapGapMs = h.firstOkMs !== undefined ? Math.round(timings.swap + h.firstOkMs) : null;

  // 5. the old one: kept stopped for rollback, or gone (a restart keeps the real previous version).
  if (live && r.outgoing === 'remove') {
    await op.phase('cleanup');
    await docker.remove(live.id, { force: true, signal }).catch((e: Error) => progress(`could not remove the old container ${live.id}: ${e.message}`));
  }
  return {
    containerId: newId,
    replacedId: live?.id ?? null,
    swapGapMs: live ? swapGapMs : null,
    gate: { attempts: h.attempts, last: h.last, by: h.by },
    timingsMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
  };
}

/**
 * The recreate sequence every operation that brings up a new `<app>` shares
 * (deploy, rollback to a kept image, restart):
 *
 *   replace: `<app>` renamed out of the way (still serving): to `<app>-previous` for a
 *            new version (the old previous steps aside as `<app>-outgoing`), to
 *            `<app>-outgoing` for a restart (the previous version stays where it is)
 *   create:  the new `<app>` created (not started: creating binds no port)
 *   swap:    the old one stopped, the new one started    ← the gap in service begins
 *   health:  the gate                                     ← and ends at its first success
 *   cleanup: what is in `<app>-outgoing` removed: the old previous (deploy, rollback
 *            to; the one just replaced is now the previous) or the restarted one
 *   or:      restore: the new one removed, every name put back, the old one started
 *
 * A failed deploy therefore leaves `<app>-previous` as it found it: rollback
 * still goes back to the version before the last good deploy.
 *
 * Only one container can hold the host port, so the old one must stop before
 * the new one starts: unlike blue-green, this strategy drops requests for the
 * length of the swap (measured and returned as `swapGapMs`). Every phase is
 * journaled with the container ids recover needs to finish or undo it.
 */
import type { ContainerInfo, ContainerSpec } from '../docker/index.js';
import { OperationError, type OperationContext } from '../bluegreen/operation.js';
import type { HealthGate } from '../bluegreen/types.js';
import type { RecreateServices } from '../services.js';
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

/** The old version restored after a failed gate (and the old previous back in its place), healthy again? */
async function restoreOld(op: RecreateOp, live: ContainerInfo | undefined, oldPrevious: ContainerInfo | undefined, newName: string): Promise<boolean | null> {
  const { svc, signal } = op;
  const n = appNames(svc);
  await op.phase('restore');
  await svc.docker.stop(newName, 5).catch(() => {});
  await svc.docker.remove(newName, { force: true });
  if (live) {
    op.progress(`putting ${live.image} back as ${n.live}`);
    await svc.docker.rename(live.id, n.live);
  }
  if (oldPrevious) await svc.docker.rename(oldPrevious.id, n.previous);
  if (!live) return null;
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
  // Only a new version displaces the previous one; it is removed once the new version passed its gate.
  const oldPrevious = r.outgoing === 'previous' && live ? prev : undefined;
  await op.phase('replace', { fromId: live?.id ?? '', fromImage: live?.image ?? '', keepFrom: r.outgoing, oldPreviousId: oldPrevious?.id ?? '' });
  if (oldPrevious) {
    progress(`${n.previous} (${oldPrevious.image}) steps aside as ${n.outgoing} until the new version is healthy`);
    await docker.rename(oldPrevious.id, n.outgoing, signal);
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
    const restored = live ? await docker.rename(live.id, n.live).then(() => true, () => false) : null;
    if (oldPrevious) await docker.rename(oldPrevious.id, n.previous).catch(() => {});
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
    const restored = await restoreOld(op, live, oldPrevious, n.live);
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
    const restored = await restoreOld(op, live, oldPrevious, n.live);
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

  // 5. what waited in <app>-outgoing goes: the old previous (the replaced one is the previous now), or the restarted one.
  const leaving = r.outgoing === 'remove' ? live : oldPrevious;
  if (leaving) {
    await op.phase('cleanup');
    progress(`removing ${n.outgoing} (${leaving.image})`);
    await docker.remove(leaving.id, { force: true, signal }).catch((e: Error) => progress(`could not remove ${n.outgoing} (${leaving.id}): ${e.message}`));
  }
  return {
    containerId: newId,
    replacedId: live?.id ?? null,
    swapGapMs: live ? swapGapMs : null,
    gate: { attempts: h.attempts, last: h.last, by: h.by },
    timingsMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
  };
}

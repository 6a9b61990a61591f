/**
 * Timed retention of the previous color (`deploy.keepPrevious: "<minutes>"`):
 * after a deploy the old color keeps running for instant rollback, and is
 * stopped once its time is up.
 *
 * The due time lives on the NAS (`<stateDir>/previous-stop.json`), not only
 * in a timer of this process, so it survives a server restart or a second
 * server: it is honoured by a timer in the running server, and at the start
 * of every operation (under the lock). A stop is only ever done under the
 * deploy lock and only if the container is still the one the record names
 * (same deployment label), still running and still not live: a later deploy
 * or a rollback that made it live again simply voids the record.
 */
import type { ContainerInfo, DockerEngine } from '../docker/index.js';
import { LABEL_DEPLOYMENT, parsePreviousStop, previousStopFile, type Color, type PreviousStop } from '../domain/index.js';
import { readSmallFiles, writeFileAtomic } from '../ssh/files.js';
import type { SshPool } from '../ssh/pool.js';
import { ensureStateDir, removePreviousStop } from './commands.js';

export type PreviousStopDecision =
  | { action: 'wait'; dueInMs: number }
  | { action: 'stop' }
  /** The record no longer applies: forget it, touch nothing. */
  | { action: 'drop'; why: string };

/** What to do about a scheduled stop, given the live color and the container as it is now. */
export function decidePreviousStop(
  rec: PreviousStop,
  now: Date,
  liveColor: Color | undefined,
  container: Pick<ContainerInfo, 'state' | 'labels'> | undefined,
): PreviousStopDecision {
  if (liveColor === undefined) return { action: 'drop', why: 'the live color is unknown: nothing is stopped blind' };
  if (liveColor === rec.color) return { action: 'drop', why: `${rec.container} is live again` };
  if (!container) return { action: 'drop', why: `${rec.container} no longer exists` };
  if ((container.labels[LABEL_DEPLOYMENT] ?? null) !== rec.deploymentId) return { action: 'drop', why: `${rec.container} was replaced since` };
  if (container.state !== 'running') return { action: 'drop', why: `${rec.container} is already ${container.state}` };
  const dueInMs = Date.parse(rec.stopAt) - now.getTime();
  return dueInMs > 0 ? { action: 'wait', dueInMs } : { action: 'stop' };
}

export async function readPreviousStop(pool: SshPool, stateDir: string, signal?: AbortSignal): Promise<PreviousStop | undefined> {
  const [text] = await readSmallFiles(pool, [{ path: previousStopFile(stateDir), maxBytes: 16 * 1024 }], signal);
  return parsePreviousStop(text);
}

export async function writePreviousStop(pool: SshPool, stateDir: string, rec: PreviousStop): Promise<void> {
  const mk = ensureStateDir(stateDir);
  await pool.run(mk.argv, { sudo: mk.sudo, timeoutMs: mk.timeoutMs });
  await writeFileAtomic(pool, previousStopFile(stateDir), `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o644 });
}

export async function clearPreviousStop(pool: SshPool, stateDir: string): Promise<void> {
  const rm = removePreviousStop(stateDir);
  await pool.run(rm.argv, { sudo: rm.sudo, timeoutMs: rm.timeoutMs });
}

export type SweepOutcome =
  | { action: 'none' }
  | { action: 'wait'; container: string; stopAt: string; dueInMs: number }
  | { action: 'stopped'; container: string; stopAt: string }
  | { action: 'dropped'; container: string; why: string };

/**
 * Applies a scheduled stop if it is due. The caller holds the deploy lock
 * (no operation may be switching to that color meanwhile).
 */
export async function sweepPreviousStop(
  d: { pool: SshPool; docker: DockerEngine; stateDir: string; liveColor: Color | undefined; now?: Date },
  signal?: AbortSignal,
): Promise<SweepOutcome> {
  const rec = await readPreviousStop(d.pool, d.stateDir, signal);
  if (!rec) return { action: 'none' };
  const info = await d.docker.inspect(rec.container, signal);
  const decision = decidePreviousStop(rec, d.now ?? new Date(), d.liveColor, info);
  if (decision.action === 'wait') return { action: 'wait', container: rec.container, stopAt: rec.stopAt, dueInMs: decision.dueInMs };
  if (decision.action === 'stop') await d.docker.stop(rec.container, 10, signal);
  await clearPreviousStop(d.pool, d.stateDir);
  return decision.action === 'stop'
    ? { action: 'stopped', container: rec.container, stopAt: rec.stopAt }
    : { action: 'dropped', container: rec.container, why: decision.why };
}

/** The record a deploy leaves for the color it moved traffic away from. */
export function scheduleFor(o: { container: string; color: Color; deploymentId: string | null; minutes: number; setBy: string; now?: Date }): PreviousStop {
  const now = o.now ?? new Date();
  return {
    container: o.container,
    color: o.color,
    deploymentId: o.deploymentId,
    stopAt: new Date(now.getTime() + o.minutes * 60_000).toISOString(),
    setBy: o.setBy,
  };
}

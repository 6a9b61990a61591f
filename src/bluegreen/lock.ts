/**
 * The deploy lock on the NAS, Kamal-style, with a heartbeat:
 *
 * - `mkdir <stateDir>/lock` is atomic (exactly one of several racing callers
 *   creates it); `lock/details.json` says who holds it, for what, since when.
 * - The running operation refreshes the details every few seconds (compare-
 *   and-swap against what it wrote last). A lock whose details file was not
 *   refreshed for `heartbeatStaleMs` (by the NAS's clock) belongs to a holder
 *   that is gone, on whatever host it ran.
 * - A lock is never broken silently: it goes away when its own operation
 *   releases it (compare-and-delete), or when recover / release_lock takes a
 *   STALE lock naming the operation they were told about.
 *
 * Every remote command comes from commands.ts.
 */
import { randomBytes } from 'node:crypto';
import type { SshPool } from '../ssh/pool.js';
import { readSmallFiles, writeFileAtomic } from '../ssh/files.js';
import { LOCK_EXIT, lockAge, mkdirLock, removeLock, removeLockIf, replaceLockDetailsIf, type RemoteCommand } from './commands.js';
import { assertStateDir, lockDetailsFile, lockDir, parseLockDetails, serializeLockDetails, type LockDetails } from '../domain/index.js';
import { LockHeldError } from './types.js';

const DETAILS_MAX_BYTES = 64 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exec = (pool: SshPool, c: RemoteCommand, signal?: AbortSignal) => pool.exec(c.argv, { sudo: c.sudo, timeoutMs: c.timeoutMs, signal });

/**
 * Takes the lock or throws LockHeldError naming the holder. Returns the
 * details text as written: the holder's proof of ownership for the heartbeat
 * and the release (compare-and-swap / compare-and-delete).
 */
export async function acquireLock(pool: SshPool, stateDir: string, details: LockDetails): Promise<string> {
  const dir = assertStateDir(stateDir);
  const r = await exec(pool, mkdirLock(dir));
  if (r.code === LOCK_EXIT.held) {
    let holder: LockState | undefined;
    // A lock whose details are not yet written (its taker is between mkdir and write): re-read briefly.
    for (let i = 0; i < 10 && !holder?.details; i++) {
      if (i > 0) await sleep(100);
      const s = await inspectLock(pool, dir);
      if (!s.held) break; // released between our mkdir and this read: it was held when we tried
      holder = s;
    }
    throw new LockHeldError(holder?.details, holder?.ageMs);
  }
  if (r.code === LOCK_EXIT.stateDir) {
    const err = new Error(`cannot create the state dir ${dir} on the NAS: ${r.stderr.trim().slice(0, 300)}`);
    Object.assign(err, { hint: `Create ${dir} on the NAS, owned by the SSH user (or set state.dir to a directory it can write).` });
    throw err;
  }
  if (r.code !== 0) {
    throw new Error(`cannot create the deploy lock ${lockDir(dir)}: ${r.stderr.trim().slice(0, 300) || `exit ${r.code ?? r.signal}`}`);
  }
  const text = serializeLockDetails(details);
  try {
    await writeFileAtomic(pool, lockDetailsFile(dir), text, { mode: 0o644 });
  } catch (err) {
    // Do not leave a lock nobody can name behind (it is ours: we made the directory a moment ago).
    await exec(pool, removeLock(dir)).catch(() => {});
    throw err;
  }
  return text;
}

export interface LockState {
  /** The lock directory exists. */
  held: boolean;
  /** Its details, when readable (a held lock may have none yet, or torn ones). */
  details: LockDetails | undefined;
  /** The raw details text, as read. */
  raw: string | undefined;
  /** Milliseconds since the details were last written (the last heartbeat), by the NAS's clock. */
  ageMs: number | undefined;
}

/** Parses `<mtime> <now>` (epoch seconds) from lockAge into an age in ms. */
export function parseLockAge(stdout: string): number | undefined {
  const m = /^(\d+) (\d+)\s*$/.exec(stdout.trim());
  if (!m) return undefined;
  return Math.max(0, (Number(m[2]) - Number(m[1])) * 1000);
}

/** Whether the lock is held, by whom, and how old its last heartbeat is. */
export async function inspectLock(pool: SshPool, stateDir: string, signal?: AbortSignal): Promise<LockState> {
  const dir = assertStateDir(stateDir);
  const [[raw], age] = await Promise.all([
    readSmallFiles(pool, [{ path: lockDetailsFile(dir), maxBytes: DETAILS_MAX_BYTES }], signal),
    exec(pool, lockAge(dir), signal),
  ]);
  const ageMs = age.code === 0 ? parseLockAge(age.stdout) : undefined;
  const details = parseLockDetails(raw);
  if (details) return { held: true, details, raw, ageMs };
  // No usable details: is the directory itself there?
  const r = await pool.exec(['test', '-d', lockDir(dir)], { timeoutMs: 15_000, signal });
  return { held: r.code === 0, details: undefined, raw, ageMs };
}

/** The holder's details; undefined when the lock is free (see inspectLock for "held, unreadable"). */
export async function readLock(pool: SshPool, stateDir: string, signal?: AbortSignal): Promise<LockDetails | undefined> {
  const dir = assertStateDir(stateDir);
  const [raw] = await readSmallFiles(pool, [{ path: lockDetailsFile(dir), maxBytes: DETAILS_MAX_BYTES }], signal);
  return parseLockDetails(raw);
}

/**
 * A held lock is live while its heartbeat is younger than `staleMs`. A lock
 * whose age cannot be told (details missing, stat refused) counts as live:
 * breaking a lock we cannot judge is the worse mistake.
 */
export function lockIsLive(state: Pick<LockState, 'held' | 'ageMs'>, staleMs: number): boolean {
  if (!state.held) return false;
  return state.ageMs === undefined || state.ageMs < staleMs;
}

/** One line naming who holds a lock: holder, host, pid, operation, since, last beat. */
export function describeHolder(d: LockDetails | undefined, ageMs: number | undefined): string {
  if (!d) return 'an unknown holder (lock details missing or unreadable)';
  const beat = ageMs === undefined ? 'last heartbeat unknown' : `last heartbeat ${Math.round(ageMs / 1000)} s ago${d.heartbeatAt ? ` (${d.heartbeatAt})` : ''}`;
  return `${d.holder} on ${d.host ?? '?'} (pid ${d.pid ?? '?'}) for ${d.operation} ${d.operationId} since ${d.since}, ${beat}`;
}

export type SwapOutcome = 'swapped' | 'free' | 'not_ours';

/** Replaces the details if they still read `expected` (heartbeat, take-over); returns the new text on success. */
export async function swapLockDetails(
  pool: SshPool,
  stateDir: string,
  expected: string,
  next: LockDetails,
): Promise<{ outcome: SwapOutcome; text: string }> {
  const text = serializeLockDetails(next);
  const r = await exec(pool, replaceLockDetailsIf(stateDir, expected, text));
  if (r.code === 0) return { outcome: 'swapped', text };
  if (r.code === LOCK_EXIT.free) return { outcome: 'free', text };
  if (r.code === LOCK_EXIT.notOurs) return { outcome: 'not_ours', text };
  throw new Error(`cannot update the deploy lock: ${r.stderr.trim().slice(0, 300) || `exit ${r.code ?? r.signal}`}`);
}

/**
 * Removes the lock if its details still read exactly `expected` (what its
 * owner wrote, or what a confirmed release read and judged stale). True if
 * this call removed it; false if it was free or changed hands.
 */
export async function releaseLockIf(pool: SshPool, stateDir: string, expected: string): Promise<boolean> {
  const r = await exec(pool, removeLockIf(stateDir, expected, randomBytes(6).toString('hex')));
  if (r.code === 0) return true;
  if (r.code === LOCK_EXIT.free || r.code === LOCK_EXIT.notOurs) return false;
  throw new Error(`cannot remove the deploy lock ${lockDir(assertStateDir(stateDir))}: ${r.stderr.trim().slice(0, 300) || `exit ${r.code ?? r.signal}`}`);
}

/**
 * The deploy lock on the NAS, Kamal-style: `mkdir` of `<stateDir>/lock` is
 * atomic (exactly one of several racing callers creates it), and
 * `lock/details.json` says who holds it, for what, since when. A lock is
 * never broken silently: it goes away when its own operation releases it, or
 * through an explicit, confirmed release (operationId null).
 *
 * Every remote path here is computed from the configured state dir; nothing
 * a caller types reaches a command line except through the pool's quoting.
 */
import { posix } from 'node:path';
import type { SshPool } from '../ssh/pool.js';
import { readSmallFiles, writeFileAtomic } from '../ssh/files.js';
import { lockDetailsFile, lockDir, parseJson } from './nas-state.js';
import { LockHeldError, type LockDetails } from './types.js';

/** Exit code of the mkdir script when the lock already exists. */
export const LOCK_HELD_EXIT = 3;
/** Exit code of the mkdir script when the state dir cannot be created. */
export const STATE_DIR_EXIT = 2;
/** Exit code of the release script when the lock is not held. */
export const LOCK_FREE_EXIT = 3;
/** Exit code of the release script when the lock belongs to another operation. */
export const LOCK_NOT_OURS_EXIT = 4;

const DETAILS_MAX_BYTES = 64 * 1024;

/**
 * Refuses state dirs that would make `rm -rf <stateDir>/lock` dangerous or
 * ambiguous: not absolute, not normalised, the root, NUL/newline.
 */
export function assertStateDir(stateDir: string): string {
  if (typeof stateDir !== 'string' || !stateDir.startsWith('/')) throw new Error(`state dir must be an absolute path: ${String(stateDir)}`);
  if (/[\0\n]/.test(stateDir)) throw new Error('state dir must not contain NUL or newline');
  const norm = posix.normalize(stateDir).replace(/\/+$/, '');
  if (norm === '' || norm === '/') throw new Error('state dir must not be the root directory');
  if (norm !== stateDir.replace(/\/+$/, '')) throw new Error(`state dir must be a normalised path (got ${stateDir}, i.e. ${norm})`);
  return norm;
}

/** `mkdir -p <stateDir>` (exit 2 if impossible), then the atomic `mkdir <stateDir>/lock` (exit 3 if it exists). */
export function mkdirLockArgv(stateDir: string): string[] {
  const dir = assertStateDir(stateDir);
  return [
    '/bin/sh',
    '-c',
    `mkdir -p -- "$1" || exit ${STATE_DIR_EXIT}; mkdir -- "$2" 2>/dev/null && exit 0; [ -e "$2" ] && exit ${LOCK_HELD_EXIT}; mkdir -- "$2"`,
    'sh',
    dir,
    lockDir(dir),
  ];
}

/** Unconditional removal of the lock (the explicit, confirmed release). */
export function removeLockArgv(stateDir: string): string[] {
  return ['rm', '-rf', '--', lockDir(assertStateDir(stateDir))];
}

/**
 * Removal only if lock/details.json still holds exactly `detailsText` (what
 * we read and checked a moment ago): closes the window in which the lock
 * could change hands between our read and the `rm`. Exit 3: no lock; 4: not ours.
 */
export function removeLockIfArgv(stateDir: string, detailsText: string): string[] {
  const dir = assertStateDir(stateDir);
  return [
    '/bin/sh',
    '-c',
    `[ -d "$1" ] || exit ${LOCK_FREE_EXIT}; [ "$(cat -- "$2" 2>/dev/null)" = "$3" ] || exit ${LOCK_NOT_OURS_EXIT}; rm -rf -- "$1"`,
    'sh',
    lockDir(dir),
    lockDetailsFile(dir),
    detailsText.replace(/\n+$/, ''),
  ];
}

/** `mkdir -p <stateDir>`, for writers that may come before any lock (journal, history). */
export function ensureStateDirArgv(stateDir: string): string[] {
  return ['mkdir', '-p', '--', assertStateDir(stateDir)];
}

export function serializeLockDetails(details: LockDetails): string {
  return `${JSON.stringify(details)}\n`;
}

function isLockDetails(v: unknown): v is LockDetails {
  if (!v || typeof v !== 'object') return false;
  const d = v as Record<string, unknown>;
  return typeof d.operationId === 'string' && typeof d.operation === 'string' && typeof d.holder === 'string' && typeof d.since === 'string';
}

export function parseLockDetails(text: string | undefined): LockDetails | undefined {
  const v = parseJson<unknown>(text);
  return isLockDetails(v) ? v : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Takes the lock or throws LockHeldError naming the holder. A lock whose
 * details are not yet written (its taker is between mkdir and write) is
 * re-read briefly so the error can still name who holds it.
 */
export async function acquireLock(pool: SshPool, stateDir: string, details: LockDetails): Promise<void> {
  const dir = assertStateDir(stateDir);
  const r = await pool.exec(mkdirLockArgv(dir), { timeoutMs: 15_000 });
  if (r.code === LOCK_HELD_EXIT) {
    let holder: LockDetails | undefined;
    for (let i = 0; i < 10 && !holder; i++) {
      if (i > 0) await sleep(100);
      const s = await inspectLock(pool, dir);
      if (!s.held) {
        // Released between our mkdir and this read: it was held when we tried; say so plainly.
        break;
      }
      holder = s.details;
    }
    throw new LockHeldError(holder);
  }
  if (r.code === STATE_DIR_EXIT) {
    const err = new Error(`cannot create the state dir ${dir} on the NAS: ${r.stderr.trim().slice(0, 300)}`);
    Object.assign(err, { hint: `Create ${dir} on the NAS, owned by the SSH user (or set state.dir to a directory it can write).` });
    throw err;
  }
  if (r.code !== 0) {
    throw new Error(`cannot create the deploy lock ${lockDir(dir)}: ${r.stderr.trim().slice(0, 300) || `exit ${r.code ?? r.signal}`}`);
  }
  try {
    await writeFileAtomic(pool, lockDetailsFile(dir), serializeLockDetails(details), { mode: 0o644 });
  } catch (err) {
    // Do not leave a lock nobody can name behind.
    await pool.exec(removeLockArgv(dir), { timeoutMs: 15_000 }).catch(() => {});
    throw err;
  }
}

export interface LockState {
  /** The lock directory exists. */
  held: boolean;
  /** Its details, when readable (a held lock may have none yet, or torn ones). */
  details: LockDetails | undefined;
  /** The raw details text, as read. */
  raw: string | undefined;
}

/** Whether the lock is held and by whom; distinguishes "free" from "held, details unreadable". */
export async function inspectLock(pool: SshPool, stateDir: string, signal?: AbortSignal): Promise<LockState> {
  const dir = assertStateDir(stateDir);
  const [raw] = await readSmallFiles(pool, [{ path: lockDetailsFile(dir), maxBytes: DETAILS_MAX_BYTES }], signal);
  const details = parseLockDetails(raw);
  if (details) return { held: true, details, raw };
  // No usable details: is the directory itself there?
  const r = await pool.exec(['test', '-d', lockDir(dir)], { timeoutMs: 15_000, signal });
  return { held: r.code === 0, details: undefined, raw };
}

/** The holder's details; undefined when the lock is free (see inspectLock for "held, unreadable"). */
export async function readLock(pool: SshPool, stateDir: string, signal?: AbortSignal): Promise<LockDetails | undefined> {
  const dir = assertStateDir(stateDir);
  const [raw] = await readSmallFiles(pool, [{ path: lockDetailsFile(dir), maxBytes: DETAILS_MAX_BYTES }], signal);
  return parseLockDetails(raw);
}

/**
 * Releases the lock if `operationId` holds it (null: whoever holds it — the
 * explicit, confirmed release). True if this call removed it; false if it
 * was free or someone else's. Never throws for a free lock.
 */
export async function releaseLock(pool: SshPool, stateDir: string, operationId: string | null): Promise<boolean> {
  const dir = assertStateDir(stateDir);
  if (operationId === null) {
    const s = await inspectLock(pool, dir);
    if (!s.held) return false;
    await pool.run(removeLockArgv(dir), { timeoutMs: 15_000 });
    return true;
  }
  const [raw] = await readSmallFiles(pool, [{ path: lockDetailsFile(dir), maxBytes: DETAILS_MAX_BYTES }]);
  const details = parseLockDetails(raw);
  if (!details || details.operationId !== operationId || raw === undefined) return false;
  const r = await pool.exec(removeLockIfArgv(dir, raw), { timeoutMs: 15_000 });
  if (r.code === 0) return true;
  if (r.code === LOCK_FREE_EXIT || r.code === LOCK_NOT_OURS_EXIT) return false;
  throw new Error(`cannot remove the deploy lock ${lockDir(dir)}: ${r.stderr.trim().slice(0, 300) || `exit ${r.code ?? r.signal}`}`);
}

/**
 * The one owner of an operation's life on the NAS:
 *
 *   lock → heartbeat → journal → body → history → release
 *
 * Every write operation (deploy, rollback, restart, stop, OAuth reset and
 * restore, recover) is a body run inside runOperation; none of them touches
 * the lock, the journal or the history itself. The operation id is the job
 * id (one identity from the tool call to the history line).
 *
 * While the body runs, a heartbeat refreshes the lock (compare-and-swap
 * against what we wrote last) and the journal every heartbeatIntervalMs. If
 * the swap finds the lock changed hands (recover took over a lock it judged
 * stale), the operation is no longer ours: its signal aborts, the next phase
 * throws LockLostError, and nothing more is written in its name.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { AppServices, Services } from '../services.js';
import { Journal, appendHistory, type FinalPhase } from './journal.js';
import { Heartbeat } from './heartbeat.js';
import { acquireLock, releaseLockIf, swapLockDetails } from './lock.js';
import type { Color, HistoryRecord, JournalEntry, LockDetails, OperationKind } from '../domain/index.js';
import type { ProgressFn } from './types.js';

/** Who asked: recorded in the lock and the history. */
export interface Who {
  caller: string;
}

export type Outcome = 'succeeded' | 'failed' | 'rolled_back' | 'recovered';

/** An expected failure with a hint and, when useful, the partial result. */
export class OperationError<R extends object = object> extends Error {
  constructor(
    message: string,
    readonly hint: string,
    readonly result?: R,
    /** How the history records it: 'rolled_back' when traffic was put back. */
    readonly outcome: 'failed' | 'rolled_back' = 'failed',
  ) {
    super(message);
    this.name = 'OperationError';
  }
}

/** The lock was taken over (recover judged it stale): this operation must stop and write nothing more. */
export class LockLostError extends Error {
  readonly hint = 'Another caller (recover) took over this operation\'s lock; status shows what it did.';
  constructor(operationId: string, how: string) {
    super(`operation ${operationId} lost its lock (${how}); it stopped where it was`);
    this.name = 'LockLostError';
  }
}

/** What the history line says about the operation; the body fills it in as it learns. */
export interface HistoryFacts {
  fromColor: Color | null;
  toColor: Color | null;
  image: string | null;
  version: string | null;
  commit: string | null;
}

/**
 * What runOperation needs of an app's services, whatever its strategy: the
 * app's name, its own state dir (lock, journal, history: an operation on one
 * app never waits for another app's lock) and the heartbeat interval.
 */
export type OperationServices = AppServices<{ nas: { host: string }; app: { name: string }; state: { dir: string }; deploy: { heartbeatIntervalMs: number } }>;

export interface OperationContext<P extends string, S extends OperationServices = Services> {
  readonly id: string;
  readonly kind: OperationKind;
  readonly svc: S;
  readonly who: Who;
  /** Aborts when the lock is lost (or the caller's signal aborts). */
  readonly signal: AbortSignal;
  facts: HistoryFacts;
  /** The history message on success (null: none). */
  message: string | null;
  /** Success is recorded as this (recover records the operation it finished as 'recovered'). */
  successAs: { outcome: Outcome; phase: FinalPhase };
  progress: ProgressFn;
  /** Enters a phase: journal on the NAS, job phase here. Throws LockLostError once the lock is gone. */
  phase(name: P, detail?: Record<string, string>): Promise<void>;
  /** Adds facts a recovery needs to the journal without changing the phase. */
  note(detail: Record<string, string>): Promise<void>;
}

/** Resume an interrupted operation (recover): continue its journal under its id and start time. */
export interface Takeover {
  /** The stale lock's details text, as read and judged stale; undefined when no lock is held. */
  lockRaw: string | undefined;
  lock: LockDetails | undefined;
  /** The interrupted operation's journal, if unfinished. */
  journal: JournalEntry | undefined;
}

export interface OperationOptions {
  kind: OperationKind;
  who: Who;
  progress: ProgressFn;
  /** The operation id (= the job id); new when not given. */
  id?: string;
  /** Told every phase (the job's phase). */
  onPhase?: (name: string) => void;
  signal?: AbortSignal;
  /** Facts for a recovery, journaled at the start. */
  detail?: Record<string, string>;
  facts?: Partial<HistoryFacts>;
  takeover?: Takeover;
}

export function newOperationId(kind: OperationKind, at = new Date()): string {
  const ts = at.toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*/, '');
  return `${kind}-${ts}-${randomBytes(2).toString('hex')}`;
}

const nowIso = () => new Date().toISOString();

/**
 * Runs `body` holding the lock, with heartbeat, journal and history. The
 * body's return value is the operation's result; an OperationError is a
 * recorded failure (its `outcome` says whether traffic was put back); any
 * other error is recorded as failed too. The lock is released in every case
 * except a lost lock.
 */
export async function runOperation<P extends string, R, S extends OperationServices = Services>(
  svc: S,
  o: OperationOptions,
  body: (op: OperationContext<P, S>) => Promise<R>,
): Promise<R> {
  const { pool, config, log } = svc;
  const stateDir = config.state.dir;
  const interrupted = o.takeover?.journal;
  const id = interrupted?.operationId ?? o.takeover?.lock?.operationId ?? o.id ?? newOperationId(o.kind);
  // Resuming keeps the interrupted operation's start: its journal's, else its lock's.
  const startedAt = interrupted?.startedAt ?? o.takeover?.lock?.since ?? nowIso();
  const beatAt = nowIso();
  const details: LockDetails = {
    operationId: id,
    operation: o.kind,
    holder: o.who.caller,
    since: o.takeover?.lock?.since ?? startedAt,
    host: hostname(),
    pid: process.pid,
    heartbeatAt: beatAt,
  };

  // 1. lock: take it, or (recover) take the stale one over by compare-and-swap.
  let lockText: string;
  if (o.takeover?.lock) {
    const s = await swapLockDetails(pool, stateDir, o.takeover.lockRaw ?? '', details);
    if (s.outcome !== 'swapped') {
      throw new OperationError(
        `the lock of ${o.takeover.lock.operation} ${id} changed while recover was taking it over (${s.outcome === 'free' ? 'it was released' : 'someone else holds it now'})`,
        'Run status: another caller acted at the same time.',
      );
    }
    lockText = s.text;
  } else {
    lockText = await acquireLock(pool, stateDir, details);
  }

  // Observers (metrics, webhooks) hear of the operation from here on; they only queue, never wait or throw.
  const t0 = performance.now();
  const events = svc.events;
  events?.started({
    operationId: id,
    kind: o.kind,
    app: config.app.name,
    target: svc.target,
    host: config.nas.host,
    who: o.who.caller,
    startedAt,
    detail: { ...(o.facts?.fromColor ? { fromColor: o.facts.fromColor } : {}), ...(o.detail ?? {}) },
  });
  let told = false;
  const tellFinished = (outcome: Outcome, message: string | null, facts: Partial<HistoryFacts> = {}) => {
    if (told || !events) return;
    told = true;
    // A resumed operation (recover) counts from when it first started.
    const resumedMs = interrupted ? Date.now() - Date.parse(startedAt) : NaN;
    events.finished({
      operationId: id,
      kind: o.kind,
      app: config.app.name,
      target: svc.target,
      host: config.nas.host,
      who: o.who.caller,
      outcome,
      fromColor: null,
      toColor: null,
      image: null,
      version: null,
      commit: null,
      ...o.facts,
      ...facts,
      message,
      startedAt,
      endedAt: nowIso(),
      durationMs: Math.max(0, Math.round(Number.isFinite(resumedMs) ? resumedMs : performance.now() - t0)),
    });
  };

  // 2. journal (continued when resuming).
  const journal = interrupted
    ? Journal.resume(pool, stateDir, interrupted)
    : new Journal(pool, stateDir, { operationId: id, kind: o.kind, detail: o.detail, startedAt });

  // 3. heartbeat.
  const ac = new AbortController();
  const onCallerAbort = () => ac.abort(o.signal?.reason);
  if (o.signal?.aborted) ac.abort(o.signal.reason);
  else o.signal?.addEventListener('abort', onCallerAbort, { once: true });
  let lost: LockLostError | undefined;
  const heartbeat = new Heartbeat(details, lockText, {
    swap: (expected, next) => swapLockDetails(pool, stateDir, expected, next),
    stamp: (at) => journal.beat(at),
    onLost: (how) => {
      lost = new LockLostError(id, how === 'removed' ? 'the lock was removed' : 'the lock names another holder now');
      log.warn({ operationId: id }, lost.message);
      ac.abort(lost);
    },
    // The NAS may be briefly unreachable: the next beat tries again.
    onError: (err) => log.warn({ operationId: id, err: err.message }, 'heartbeat failed'),
  });
  heartbeat.start(config.deploy.heartbeatIntervalMs);
  const stopBeating = async () => {
    await heartbeat.stop();
    o.signal?.removeEventListener('abort', onCallerAbort);
  };

  const op: OperationContext<P, S> = {
    id,
    kind: o.kind,
    svc,
    who: o.who,
    signal: ac.signal,
    facts: { fromColor: null, toColor: null, image: null, version: null, commit: null, ...o.facts },
    message: null,
    successAs: { outcome: 'succeeded', phase: 'done' },
    progress: o.progress,
    async phase(name, detail = {}) {
      if (lost) throw lost;
      await journal.phase(name, detail);
      o.onPhase?.(name);
      events?.phase({ operationId: id, kind: o.kind, phase: name, at: nowIso() });
    },
    async note(detail) {
      if (lost) throw lost;
      await journal.phase(journal.entry.phase, detail);
    },
  };

  const end = async (outcome: Outcome, phase: FinalPhase, message: string | null) => {
    await stopBeating();
    if (lost) return tellFinished('failed', lost.message, op.facts);
    // Each step is attempted even if one fails: the lock must not outlive us.
    const errors: string[] = [];
    // The journal's last phase and the history line are independent: written together. The lock
    // goes only after both (a recover that finds no lock must find the journal finished).
    const rec: HistoryRecord = { id, kind: o.kind, ...op.facts, who: o.who.caller, startedAt, endedAt: nowIso(), outcome, message };
    await Promise.all([
      journal.finish(phase, { outcome }).catch((e: Error) => errors.push(`journal: ${e.message}`)),
      appendHistory(pool, stateDir, rec).catch((e: Error) => errors.push(`history: ${e.message}`)),
    ]);
    const released = await releaseLockIf(pool, stateDir, heartbeat.lockText).catch((e: Error) => (errors.push(`lock: ${e.message}`), true));
    if (!released) errors.push('lock: it was no longer ours at the release');
    if (errors.length) log.error({ operationId: id, errors }, 'could not record the end of an operation');
    o.onPhase?.(phase);
    tellFinished(outcome, message, op.facts);
  };

  try {
    // A resumed journal keeps the phase it was cut at until the body moves on: a second
    // recover, should this one die too, must still see where the operation stopped.
    if (!o.takeover) await op.phase('locked' as P);
  } catch (e) {
    await stopBeating();
    await releaseLockIf(pool, stateDir, heartbeat.lockText).catch(() => {});
    tellFinished('failed', (e as Error).message ?? String(e));
    throw e;
  }

  try {
    const result = await body(op);
    await end(op.successAs.outcome, op.successAs.phase, op.message);
    if (lost) throw lost;
    return result;
  } catch (e) {
    if (lost) {
      await stopBeating();
      tellFinished('failed', lost.message, op.facts);
      throw lost;
    }
    if (e instanceof OperationError) {
      await end(e.outcome, e.outcome === 'rolled_back' ? 'rolled_back' : 'failed', e.message);
    } else {
      await end('failed', 'failed', (e as Error).message ?? String(e));
    }
    throw e;
  }
}

/**
 * recover: finishes an operation whose holder is gone (its heartbeat went
 * stale), under the interrupted operation's own id and start time. The lock
 * is taken over by compare-and-swap; the journal says where it stopped; the
 * recover table says what to do about it. Refused while the holder's
 * heartbeat is fresh, whoever and wherever it is.
 *
 * release_lock: the explicit, confirmed removal of a stale lock
 * (compare-and-delete), for when recover is not wanted.
 */
import type { AppServices, Services } from '../../services.js';
import { type Color, colorContainerName, type JournalEntry, LABEL_DEPLOYMENT, type OperationKind } from '../../domain/index.js';
import { waitHealthy } from '../health-gate.js';
import { readJournal } from '../journal.js';
import { describeHolder, inspectLock, lockIsLive, releaseLockIf } from '../lock.js';
import { readUpstream, switchUpstream } from '../nginx.js';
import { OperationError, runOperation, type OperationOptions, type OperationServices } from '../operation.js';
import { compensation } from '../recover-table.js';
import { LABEL_OPERATION } from './cutover.js';
import { colorTarget, quickGate } from './shared.js';

export interface RecoverResult {
  recovered: boolean;
  operationId: string | null;
  phaseWhenCut: string | null;
  liveColor: Color | null;
  actions: string[];
  message: string | null;
}

export interface ReleaseResult {
  released: boolean;
  operationId: string | null;
  holder: string | null;
  since: string | null;
  message: string | null;
}

/** The confirm word for a lock whose details cannot be read. */
export const UNREADABLE_LOCK_CONFIRM = 'unreadable-lock';

const asColor = (v: string | undefined): Color | undefined => (v === 'blue' || v === 'green' ? v : undefined);

export function refuseLive(what: string, d: Parameters<typeof describeHolder>[0], ageMs: number | undefined, staleMs: number): never {
  throw new OperationError(
    `${what} refused: the lock is live, held by ${describeHolder(d, ageMs)}`,
    `Its holder is running (heartbeat younger than ${Math.round(staleMs / 1000)} s): wait for it (job_status / status). ` +
      'If its process is really gone, its heartbeat goes stale by itself; try again then.',
  );
}

/** What a recover takes over: the stale lock, the interrupted operation's journal, where it was cut. */
export interface Takeover {
  lock: Awaited<ReturnType<typeof inspectLock>>;
  interrupted: JournalEntry | undefined;
  kind: OperationKind;
  detail: Record<string, string>;
  phaseWhenCut: string | null;
  /** What was done before the operation (a nameless stale lock removed). */
  actions: string[];
  /** The options runOperation needs to take it over under its own id. */
  options: Pick<OperationOptions, 'kind' | 'takeover' | 'id'>;
}

/**
 * Reads the lock and the journal of any app and decides what recover takes
 * over; undefined when there is nothing to recover. Refused while the lock
 * is live. Every strategy's recover starts here.
 */
export async function takeoverOf(svc: OperationServices & { config: { deploy: { heartbeatStaleMs: number } } }, signal?: AbortSignal): Promise<Takeover | undefined> {
  const { pool, config } = svc;
  const stateDir = config.state.dir;
  const [lock, journal] = await Promise.all([inspectLock(pool, stateDir, signal), readJournal(pool, stateDir, signal)]);
  if (lockIsLive(lock, config.deploy.heartbeatStaleMs)) refuseLive('recover', lock.details, lock.ageMs, config.deploy.heartbeatStaleMs);
  let interrupted: JournalEntry | undefined = journal && !journal.finished ? journal : undefined;
  if (!lock.held && !interrupted) return undefined;
  // A journal that is not the lock holder's is not what this lock was for.
  if (lock.details && interrupted && interrupted.operationId !== lock.details.operationId) interrupted = undefined;

  const actions: string[] = [];
  if (lock.held && !lock.details) {
    // Stale and nameless (its taker died between mkdir and writing details): nothing to take over, just remove it.
    if (!(await releaseLockIf(pool, stateDir, lock.raw ?? ''))) throw new OperationError('the lock changed while recover looked at it', 'Run status and try again.');
    actions.push('removed a stale lock without details');
  }
  const kind = (interrupted?.kind ?? lock.details?.operation ?? 'recover') as OperationKind;
  const detail = interrupted?.detail ?? {};
  // A recover that was itself cut off left its own phase; the phase it found is in the detail.
  const phaseWhenCut = interrupted ? (interrupted.phase === 'recover' ? (detail.phaseWhenCut ?? 'recover') : interrupted.phase) : null;
  return {
    lock,
    interrupted,
    kind,
    detail,
    phaseWhenCut,
    actions,
    options: {
      kind,
      takeover: { lockRaw: lock.details ? lock.raw : undefined, lock: lock.details, journal: interrupted },
      id: interrupted?.operationId ?? lock.details?.operationId,
    },
  };
}

export const NOTHING_TO_RECOVER = 'nothing to recover: no lock held and the last operation finished';

export async function recover(svc: Services, o: Omit<OperationOptions, 'kind'>): Promise<RecoverResult> {
  const { pool, config, docker } = svc;
  const t = await takeoverOf(svc, o.signal);
  if (!t) return { recovered: false, operationId: null, phaseWhenCut: null, liveColor: null, actions: [], message: NOTHING_TO_RECOVER };
  const { kind, detail, phaseWhenCut, actions } = t;

  return runOperation<'locked' | 'recover', RecoverResult>(
    svc,
    {
      ...o,
      ...t.options,
      facts: {
        fromColor: asColor(detail.fromColor) ?? null,
        toColor: asColor(detail.toColor) ?? null,
        image: detail.image ?? null,
        version: detail.version ?? null,
        commit: detail.commit ?? null,
      },
    },
    async (op) => {
      await op.phase('recover', { recoveredBy: o.who.caller, phaseWhenCut: phaseWhenCut ?? 'unknown' });
      const from = asColor(detail.fromColor);
      const to = asColor(detail.toColor);
      let live = (await readUpstream(pool, config, op.signal)).info.color;
      for (const action of compensation(kind, phaseWhenCut ?? 'locked')) {
        if (action === 'check_traffic' && live) {
          const h = await waitHealthy(pool, colorTarget(svc, live), quickGate(svc), { signal: op.signal });
          if (!h.ok && from && live !== from) {
            op.progress(`live color ${live} is unhealthy: switching back to ${from}`);
            await switchUpstream(pool, config, from, op.id);
            actions.push(`switched traffic back to ${from} (${live} was unhealthy)`);
            live = from;
          } else if (h.ok) actions.push(`live color ${live} is healthy; traffic left there`);
          else actions.push(`WARNING: live color ${live} is unhealthy and there is no other color to go back to`);
        }
        if (action === 'stop_unswitched_idle' && to && live !== to) {
          const name = colorContainerName(config.app.name, to);
          const info = await docker.inspect(name, op.signal);
          const madeByIt = info && (info.labels[LABEL_DEPLOYMENT] === op.id || info.labels[LABEL_OPERATION] === op.id);
          if (info?.state === 'running' && madeByIt) {
            await docker.stop(name, 5, op.signal).catch(() => {});
            actions.push(`stopped ${name}, started by the interrupted ${kind} but never switched to`);
          }
        }
        if (action === 'note_backup' && (detail.backupDir || detail.restoreFrom)) {
          actions.push(`OAuth files: backup in ${detail.backupDir ?? '?'}${detail.restoreFrom ? `, restore source ${detail.restoreFrom}` : ''} (restore_oauth puts a backup back)`);
        }
      }
      if (!actions.length) actions.push(`nothing to undo at phase ${phaseWhenCut ?? 'unknown'}`);
      actions.push(`released the lock of ${kind} ${op.id}`);
      op.successAs = { outcome: 'recovered', phase: 'recovered' };
      op.message = `cut off at ${phaseWhenCut ?? 'unknown'}; ${actions.join('; ')}`;
      op.progress(actions.join('; '));
      return { recovered: true, operationId: op.id, phaseWhenCut, liveColor: live ?? null, actions, message: null };
    },
  );
}

/** Explicit, confirmed release of a stale lock (compare-and-delete of exactly the lock confirmed). */
/** What release_lock needs of an app's services, whatever its strategy. */
export type LockServices = Pick<AppServices<{ state: { dir: string }; deploy: { heartbeatStaleMs: number } }>, 'pool' | 'config'>;

export async function releaseLock(svc: LockServices, confirm: string, signal?: AbortSignal): Promise<ReleaseResult> {
  const { pool, config } = svc;
  const lock = await inspectLock(pool, config.state.dir, signal);
  if (!lock.held) return { released: false, operationId: null, holder: null, since: null, message: 'the lock is free' };
  const d = lock.details;
  const expected = d ? d.operationId : UNREADABLE_LOCK_CONFIRM;
  if (confirm !== expected) {
    throw new OperationError(
      d ? `confirm must be the lock's operation id ("${d.operationId}", ${describeHolder(d, lock.ageMs)})` : `the lock has no readable details: confirm must be "${UNREADABLE_LOCK_CONFIRM}"`,
      'Prefer recover, which also puts traffic right; release only when you know the holder is gone.',
    );
  }
  if (lockIsLive(lock, config.deploy.heartbeatStaleMs)) refuseLive('release_lock', d, lock.ageMs, config.deploy.heartbeatStaleMs);
  if (!(await releaseLockIf(pool, config.state.dir, lock.raw ?? ''))) {
    throw new OperationError('the lock changed hands while it was being released; nothing was removed', 'Run status: another caller acted at the same time.');
  }
  return { released: true, operationId: d?.operationId ?? null, holder: d?.holder ?? null, since: d?.since ?? null, message: null };
}

/**
 * Shared shapes of the blue-green engine. State lives on the NAS (under
 * `config.state.dir`), never only in this process:
 *
 *   lock/                 mkdir-atomic deploy lock; lock/details.json says who/what/when
 *   journal.json          phases of the current (or last) operation, replaced atomically
 *   history.jsonl         one line per finished operation (deployment history)
 *   upstream.prev         the nginx upstream before our last switch (restored on a bad switch)
 */
import type { Color } from './upstream.js';

export type OperationKind = 'deploy' | 'rollback' | 'restart' | 'stop' | 'reset_oauth' | 'restore_oauth' | 'recover';

/** Written to lock/details.json when the lock is taken. */
export interface LockDetails {
  operationId: string;
  operation: OperationKind;
  /** Who asked: caller id (token fingerprint, OAuth client, stdio user). */
  holder: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Host name and PID of the server process that holds it (to tell a dead holder). */
  host: string;
  pid: number;
  /**
   * ISO time of the holder's last heartbeat (refreshed every
   * deploy.heartbeatIntervalMs while the operation runs). Informational:
   * staleness is judged by the NAS's own clock on the file's mtime, so a
   * holder with a skewed clock is not misjudged.
   */
  heartbeatAt?: string;
}

/** Raised when the lock is held by someone else; names the holder and its last heartbeat. */
export class LockHeldError extends Error {
  readonly hint: string;
  constructor(
    readonly details: LockDetails | undefined,
    /** Age of the holder's last heartbeat (ms, NAS clock), if known. */
    readonly heartbeatAgeMs?: number,
  ) {
    super(
      details
        ? `the deploy lock is held by ${details.holder} on ${details.host} (pid ${details.pid}) for ${details.operation} ${details.operationId} since ${details.since}` +
            (heartbeatAgeMs !== undefined ? `, last heartbeat ${Math.round(heartbeatAgeMs / 1000)} s ago` : '')
        : 'the deploy lock is held (its details are unreadable)',
    );
    this.hint = 'Wait for that operation to finish (status shows it). If its holder died, its heartbeat goes stale: then run recover (or release_lock with confirm).';
  }
}

/** One phase of an operation, as recorded in the journal. */
export interface JournalEntry {
  operationId: string;
  kind: OperationKind;
  /** The current phase name (e.g. 'build', 'start', 'health', 'switch', 'verify', 'done', 'failed'). */
  phase: string;
  startedAt: string;
  updatedAt: string;
  /** ISO time of the running operation's last heartbeat (see LockDetails.heartbeatAt). */
  heartbeatAt?: string;
  /** True once the operation reached a final phase (done, failed, rolled_back). */
  finished: boolean;
  /** Facts a recovery needs: fromColor, toColor, image, container, previousUpstream… (strings only). */
  detail: Record<string, string>;
}

/** One line of history.jsonl (also what `status` shows as recent deployments). */
export interface HistoryRecord {
  id: string;
  kind: OperationKind;
  fromColor: Color | null;
  toColor: Color | null;
  image: string | null;
  version: string | null;
  commit: string | null;
  who: string | null;
  startedAt: string;
  endedAt: string | null;
  /** succeeded | failed | rolled_back | recovered | cancelled */
  outcome: string;
  message: string | null;
}

/** Health gate settings (deploy defaults: 30 attempts × 10 s, 1 success). */
export interface HealthGate {
  attempts: number;
  intervalMs: number;
  /** Consecutive successes required. */
  successThreshold: number;
  /** Per-probe timeout. */
  timeoutMs: number;
}

/** Progress reporting from an operation to whoever watches (tool call, job, CLI). */
export type ProgressFn = (message: string) => void;

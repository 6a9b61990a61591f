/**
 * Shapes of the blue-green engine that stay inside it. The records kept on
 * the NAS (lock details, journal, history) are domain facts: src/domain.
 */
import type { LockDetails } from '../domain/index.js';

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

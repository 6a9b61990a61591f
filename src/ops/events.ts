/**
 * Operation events: what the engine tells observers (metrics, webhooks) about
 * a write operation while it runs. The engine only ever calls a hub; it never
 * knows who listens, and a listener can never break or slow an operation:
 * listeners are synchronous (they queue their own work) and their throws are
 * caught here and logged.
 */
import type { Logger } from '../log.js';

/** succeeded | failed | rolled_back (traffic moved back by itself) | recovered (finished by recover). */
export type OperationOutcome = 'succeeded' | 'failed' | 'rolled_back' | 'recovered';

export interface OperationStarted {
  operationId: string;
  /** deploy, rollback, restart, stop, reset_oauth, recover (and kinds added later). */
  kind: string;
  app: string;
  /** The configured target the operation runs on (`default` for the single-NAS file)… */
  target: string;
  /** …and that target's NAS host. */
  host?: string;
  who: string;
  startedAt: string;
  /** What the engine knows up front (fromColor, toColor, container, …). */
  detail: Record<string, string>;
}

export interface OperationPhase {
  operationId: string;
  kind: string;
  phase: string;
  at: string;
}

export interface OperationFinished {
  operationId: string;
  kind: string;
  app: string;
  target: string;
  host?: string;
  who: string;
  outcome: OperationOutcome;
  fromColor: string | null;
  toColor: string | null;
  /** The version now serving after a deploy or rollback (the history record's version). */
  version: string | null;
  image: string | null;
  commit: string | null;
  message: string | null;
  startedAt: string;
  endedAt: string;
  durationMs: number;
}

export interface OperationEvents {
  started(e: OperationStarted): void;
  phase(e: OperationPhase): void;
  finished(e: OperationFinished): void;
}

/**
 * Fan-out to any number of listeners. `subscribe` returns the unsubscribe
 * function (a server instance's metrics leave with the instance).
 */
export class OperationEventHub implements OperationEvents {
  private readonly listeners = new Set<Partial<OperationEvents>>();

  constructor(private readonly log?: Logger) {}

  subscribe(listener: Partial<OperationEvents>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }

  started(e: OperationStarted): void {
    this.emit('started', e);
  }

  phase(e: OperationPhase): void {
    this.emit('phase', e);
  }

  finished(e: OperationFinished): void {
    this.emit('finished', e);
  }

  private emit<K extends keyof OperationEvents>(name: K, e: Parameters<OperationEvents[K]>[0]): void {
    for (const l of this.listeners) {
      try {
        (l[name] as ((x: typeof e) => void) | undefined)?.(e);
      } catch (err) {
        this.log?.error({ event: name, operationId: e.operationId, err: (err as Error)?.message }, 'an operation event listener failed');
      }
    }
  }
}


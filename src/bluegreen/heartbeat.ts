/**
 * The running operation's heartbeat: every `intervalMs`, compare-and-swap
 * the lock details (our last text → the same with a new heartbeatAt), then
 * stamp the journal. The swap failing because the lock changed hands means
 * the operation is no longer ours: `onLost` is called once and beating
 * stops. A transient failure (NAS briefly unreachable) is retried at the
 * next beat; if it lasts longer than the stale limit, a recover elsewhere
 * may take over, and the next successful read tells us so.
 *
 * I/O is injected (swap, stamp), so the logic is tested with fakes.
 */
import type { LockDetails } from '../domain/index.js';
import type { SwapOutcome } from './lock.js';

export interface HeartbeatIo {
  /** Compare-and-swap of the lock details: `expected` text → `next`. */
  swap(expected: string, next: LockDetails): Promise<{ outcome: SwapOutcome; text: string }>;
  /** After a successful swap (the journal's heartbeat). */
  stamp(at: string): Promise<void>;
  /** The lock changed hands: stop the operation. */
  onLost(how: 'removed' | 'taken'): void;
  /** A beat failed for another reason (logged; retried at the next beat). */
  onError(err: Error): void;
  now?: () => Date;
}

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lostHow: 'removed' | 'taken' | undefined;

  constructor(
    private details: LockDetails,
    /** The details text as it is on the NAS now (what we wrote last). */
    private text: string,
    private readonly io: HeartbeatIo,
  ) {}

  /** The details text we wrote last: the proof of ownership for the release. */
  get lockText(): string {
    return this.text;
  }

  get lost(): 'removed' | 'taken' | undefined {
    return this.lostHow;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.beat(), intervalMs);
    this.timer.unref?.();
  }

  /** One beat (skipped while one is in flight or once lost). */
  beat(): Promise<void> {
    if (this.lostHow || this.inFlight) return this.inFlight ?? Promise.resolve();
    this.inFlight = this.once().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  /** Stops beating; resolves when a beat in flight has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private async once(): Promise<void> {
    const at = (this.io.now?.() ?? new Date()).toISOString();
    const next: LockDetails = { ...this.details, heartbeatAt: at };
    let s: { outcome: SwapOutcome; text: string };
    try {
      s = await this.io.swap(this.text, next);
    } catch (err) {
      this.io.onError(err as Error);
      return;
    }
    if (s.outcome !== 'swapped') {
      this.lostHow = s.outcome === 'free' ? 'removed' : 'taken';
      clearInterval(this.timer);
      this.io.onLost(this.lostHow);
      return;
    }
    this.details = next;
    this.text = s.text;
    await this.io.stamp(at).catch((err: Error) => this.io.onError(err));
  }
}

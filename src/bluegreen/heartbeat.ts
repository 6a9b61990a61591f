/**
 * The running operation's heartbeat: every `intervalMs`, compare-and-swap
 * the lock details (our last text → the same with a new heartbeatAt), then
 * stamp the journal. The swap failing because the lock changed hands means
 * the operation is no longer ours: `onLost` is called once and beating
 * stops. A transient failure (NAS briefly unreachable) is retried at the
 * next beat; if it lasts longer than the stale limit, a recover elsewhere
 * may take over, and the next successful read tells us so.
 *
 * A swap that failed may still have landed (its answer lost, or cut off by
 * its timeout on a busy NAS): the NAS then holds the text we meant to write,
 * not the one we remember. Such texts are kept as "unsure"; a later beat or
 * the release that finds the lock "not ours" tries them before giving up,
 * so a lost answer can neither make us drop our own operation nor leave our
 * lock behind until it goes stale.
 *
 * I/O is injected (swap, stamp), so the logic is tested with fakes.
 */
import { serializeLockDetails, type LockDetails } from '../domain/index.js';
import type { SwapOutcome } from './lock.js';

/** Failed beats remembered (a NAS unreachable for longer loses the lock to staleness anyway). */
const MAX_UNSURE = 8;

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
  /** Texts of swaps whose outcome is unknown (they threw), newest first. */
  private unsure: string[] = [];

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

  /**
   * Every text the lock may hold while it is still ours: what we wrote last,
   * then those of failed swaps that may have landed (newest first). The
   * release tries them in this order.
   */
  get ownTexts(): string[] {
    return [this.text, ...this.unsure];
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
      // Not what we remember: perhaps what a failed swap wrote after all.
      for (const u of s.outcome === 'not_ours' ? this.unsure : []) {
        s = await this.io.swap(u, next);
        if (s.outcome !== 'not_ours') break;
      }
    } catch (err) {
      this.unsure.unshift(serializeLockDetails(next));
      this.unsure.length = Math.min(this.unsure.length, MAX_UNSURE);
      this.io.onError(err as Error);
      return;
    }
    if (s.outcome !== 'swapped') {
      this.lostHow = s.outcome === 'free' ? 'removed' : 'taken';
      clearInterval(this.timer);
      this.io.onLost(this.lostHow);
      return;
    }
    // The NAS holds exactly `s.text` now: no earlier attempt can be there any more.
    this.unsure = [];
    this.details = next;
    this.text = s.text;
    await this.io.stamp(at).catch((err: Error) => this.io.onError(err));
  }
}

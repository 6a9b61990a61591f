/**
 * The timer side of timed retention (deploy.keepPrevious "<minutes>"): the
 * running server wakes up when the previous color's time is up and runs a
 * check (a short locked operation that stops it if the NAS record still says
 * so). The due time itself lives on the NAS (previous-color.ts), so a server
 * started later picks it up again with resume().
 */
import type { Logger } from '../log.js';

/** What a check decides: done, or look again in retryInMs (lock busy, not due yet). */
export interface WatchCheck {
  retryInMs?: number;
}

/** Longest single setTimeout (about 24.8 days); longer waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class PreviousColorWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly log: Logger,
    /** Stops the previous color if due; called with no lock held. */
    private readonly check: () => Promise<WatchCheck>,
    /** Reads the due time on the NAS (ISO), if any. */
    private readonly readDue: () => Promise<string | undefined>,
  ) {}

  /** Wake up at `stopAt` (ISO); replaces any earlier wake-up. */
  arm(stopAt: string, now = Date.now()): void {
    if (this.closed) return;
    this.wakeIn(Math.max(0, Date.parse(stopAt) - now));
  }

  /** At server start: pick up a stop scheduled by an earlier server (or another process). */
  async resume(): Promise<void> {
    try {
      const due = await this.readDue();
      if (due) this.arm(due);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'could not read the scheduled stop of the previous color');
    }
  }

  /** The pending wake-up, for status and tests. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Stops waking up; waits for a check in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private wakeIn(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    const step = Math.min(ms, MAX_TIMEOUT_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (step < ms) return this.wakeIn(ms - step);
      this.running = this.fire().finally(() => (this.running = undefined));
    }, step);
    // Never keeps the process alive by itself.
    this.timer.unref?.();
  }

  private async fire(): Promise<void> {
    if (this.closed) return;
    let retry: number | undefined;
    try {
      retry = (await this.check()).retryInMs;
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'stopping the previous color failed; trying again in a minute');
      retry = 60_000;
    }
    if (retry !== undefined && !this.closed && !this.timer) this.wakeIn(retry);
  }
}

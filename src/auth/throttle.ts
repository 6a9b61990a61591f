/**
 * Per-IP exponential back-off for the consent page's passphrase: after the
 * n-th consecutive failure from an address, further attempts from it are
 * refused (without checking the passphrase) for base × 2^(n-1), capped.
 * A success clears the address. Memory is bounded (oldest entries dropped).
 */
export interface ThrottleOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  blockedUntil: number;
}

export class FailureThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly base: number;
  private readonly max: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: ThrottleOptions = {}) {
    this.base = opts.baseDelayMs ?? 1_000;
    this.max = opts.maxDelayMs ?? 15 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Milliseconds this key must still wait (0 = may try now). */
  waitMs(key: string): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    return Math.max(0, e.blockedUntil - this.now());
  }

  /** Records a failure; returns the number of consecutive failures and the delay imposed. */
  fail(key: string): { failures: number; delayMs: number } {
    const e = this.entries.get(key) ?? { failures: 0, blockedUntil: 0 };
    e.failures++;
    const delayMs = Math.min(this.max, this.base * 2 ** Math.min(e.failures - 1, 30));
    e.blockedUntil = this.now() + delayMs;
    this.entries.delete(key);
    this.entries.set(key, e);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return { failures: e.failures, delayMs };
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }
}

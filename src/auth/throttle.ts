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

  failures(key: string): number {
    return this.entries.get(key)?.failures ?? 0;
  }
}

export interface GateOptions extends ThrottleOptions {
  /** Wrong passphrases accepted from all addresses together within `globalWindowMs`; beyond it every check is refused until the window moves on. */
  globalFailureBudget?: number;
  globalWindowMs?: number;
  /** Passphrase checks running at once, all addresses together (each scrypt check holds 32 MiB). */
  maxInFlight?: number;
}

export type Admission =
  | { ok: true; /** Call exactly once, when the check has finished. */ done(success: boolean): void }
  | { ok: false; reason: 'in-flight' | 'back-off' | 'budget' | 'busy'; retryAfterMs: number };

/**
 * Decides whether a passphrase may be checked now, and records the attempt
 * BEFORE the (slow) check runs, so requests that arrive while it runs see it:
 * - one check in flight per address, a few in all (memory);
 * - the per-address exponential back-off of {@link FailureThrottle};
 * - a global failure budget, against many addresses guessing together.
 * Each admitted attempt counts as a failure until `done(true)` refunds it.
 */
export class PassphraseGate {
  private readonly perKey: FailureThrottle;
  private readonly inFlight = new Set<string>();
  /** Times of the failures (and attempts under way) inside the global window, oldest first. */
  private readonly recent: { at: number }[] = [];
  private readonly budget: number;
  private readonly windowMs: number;
  private readonly maxInFlight: number;
  private readonly now: () => number;

  constructor(opts: GateOptions = {}) {
    this.perKey = new FailureThrottle(opts);
    this.budget = opts.globalFailureBudget ?? 30;
    this.windowMs = opts.globalWindowMs ?? 15 * 60_000;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.now = opts.now ?? Date.now;
  }

  admit(key: string): Admission {
    if (this.inFlight.has(key)) return { ok: false, reason: 'in-flight', retryAfterMs: 1_000 };
    const wait = this.perKey.waitMs(key);
    if (wait > 0) return { ok: false, reason: 'back-off', retryAfterMs: wait };
    const t = this.now();
    while (this.recent.length && this.recent[0]!.at <= t - this.windowMs) this.recent.shift();
    if (this.recent.length >= this.budget) {
      return { ok: false, reason: 'budget', retryAfterMs: Math.max(1_000, this.recent[0]!.at + this.windowMs - t) };
    }
    if (this.inFlight.size >= this.maxInFlight) return { ok: false, reason: 'busy', retryAfterMs: 1_000 };
    // Marked before the check: in flight, one more failure for the address, one more against the budget.
    this.inFlight.add(key);
    this.perKey.fail(key);
    const mark = { at: t };
    this.recent.push(mark);
    let finished = false;
    return {
      ok: true,
      done: (success: boolean) => {
        if (finished) return;
        finished = true;
        this.inFlight.delete(key);
        if (!success) return;
        this.perKey.succeed(key);
        const i = this.recent.indexOf(mark);
        if (i >= 0) this.recent.splice(i, 1);
      },
    };
  }

  /** Consecutive failures recorded for an address (logs). */
  failures(key: string): number {
    return this.perKey.failures(key);
  }
}

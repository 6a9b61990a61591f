/**
 * Identical reads in flight share one trip to the NAS, and (when enabled) a
 * settled read is kept as a short-lived snapshot.
 *
 * Two hundred `status` calls that arrive together would otherwise repeat the
 * same Engine API list/inspect, SFTP reads and `ls` two hundred times on a NAS
 * with two cores. The rules, all of them about the *generation*, which
 * `invalidate()` bumps (every operation phase of the app, every write tool
 * call, every Docker event on its NAS, the change feed going down or up):
 *
 * - a caller joins a read in flight only if no invalidation happened since
 *   that read began: nobody gets an answer older than the last write it
 *   could know of;
 * - a settled read is kept only if it began while the change feed was live
 *   and no invalidation happened while it ran (a read that began before a
 *   write is never kept after it), and only if the caller's `keep` says so;
 * - a kept read is served only in the same generation, while the feed is
 *   live, and until `ttlMs` after the read began. With `ttlMs` 0 (the
 *   default) nothing is kept once a read settles.
 *
 * What no generation can see (files another process writes on the NAS: its
 * lock, journal, upstream) is bounded by `ttlMs` alone.
 */

export interface SnapshotOptions {
  /** How long after it began a settled read may be served again; 0: never. */
  ttlMs?: number;
  /**
   * Whether the NAS's changes are being watched right now (Docker events
   * reach `invalidate`). While not, nothing is kept or served. Default: live.
   */
  live?: () => boolean;
  /** Called when a read would be kept or served (to start the change feed lazily). */
  onUse?: () => void;
  /** Clock (ms since the epoch); tests pass their own. */
  now?: () => number;
}

/** A read's value and how old it is. */
export interface Served<T> {
  value: T;
  /** When the reads on the NAS began (ms since the epoch). */
  readAt: number;
  /** now − readAt when it was handed to this caller. */
  ageMs: number;
  /** Served from a kept snapshot (true) or from a read this caller started or joined in flight. */
  fromSnapshot: boolean;
}

interface InFlight {
  generation: number;
  readAt: number;
  /** The feed was live when the read began: the result may be kept. */
  keepable: boolean;
  promise: Promise<unknown>;
  waiters: number;
  controller: AbortController;
}

interface Kept {
  generation: number;
  readAt: number;
  value: unknown;
}

export class ReadCoalescer {
  private generation = 0;
  private readonly inflight = new Map<string, InFlight>();
  private readonly kept = new Map<string, Kept>();
  /** How long a kept read may be served (ms); 0 disables snapshots. Mutable for benchmarks that compare both. */
  ttlMs: number;
  private readonly live: () => boolean;
  private readonly onUse: () => void;
  private readonly now: () => number;
  private served = { snapshot: 0, joined: 0, read: 0 };

  constructor(opts: SnapshotOptions = {}) {
    this.ttlMs = Math.max(0, opts.ttlMs ?? 0);
    this.live = opts.live ?? (() => true);
    this.onUse = opts.onUse ?? (() => {});
    this.now = opts.now ?? Date.now;
  }

  /** A write (or a change seen on the NAS) happened: later readers start afresh, kept reads are dropped. */
  invalidate(): void {
    this.generation++;
    this.kept.clear();
  }

  /** Runs `read`, joins the identical one in flight, or serves a kept one: the value only. */
  async run<T>(key: string, read: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, keep?: (value: T) => boolean): Promise<T> {
    return (await this.read(key, read, signal, keep)).value;
  }

  /**
   * Runs `read`, joins the identical one in flight, or serves a kept one,
   * saying how old the answer is. `keep` may refuse to keep a value (e.g. a
   * status that shows an operation in progress). The shared read is
   * cancelled only when every caller waiting for it has given up.
   */
  read<T>(key: string, read: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal, keep?: (value: T) => boolean): Promise<Served<T>> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const snapshots = this.ttlMs > 0;
    if (snapshots) {
      this.onUse();
      const k = this.kept.get(key);
      if (k) {
        const age = this.now() - k.readAt;
        if (k.generation === this.generation && this.live() && age < this.ttlMs) {
          this.served.snapshot++;
          return Promise.resolve({ value: k.value as T, readAt: k.readAt, ageMs: Math.max(0, age), fromSnapshot: true });
        }
        this.kept.delete(key);
      }
    }
    let entry = this.inflight.get(key);
    if (entry && entry.generation === this.generation) this.served.joined++;
    else {
      this.served.read++;
      const controller = new AbortController();
      const created: InFlight = {
        generation: this.generation,
        readAt: this.now(),
        keepable: snapshots && this.live(),
        promise: undefined as unknown as Promise<unknown>,
        waiters: 0,
        controller,
      };
      const promise = read(controller.signal);
      created.promise = promise;
      const forget = () => {
        if (this.inflight.get(key) === created) this.inflight.delete(key);
      };
      promise.then((value) => {
        forget();
        // Kept only if nothing changed while it ran and the feed was watching all along
        // (the feed going down or up bumps the generation too).
        if (created.keepable && created.generation === this.generation && this.ttlMs > 0 && this.live() && (!keep || keep(value))) {
          this.kept.set(key, { generation: created.generation, readAt: created.readAt, value });
        }
      }, forget);
      this.inflight.set(key, created);
      entry = created;
    }
    const e = entry;
    e.waiters++;
    const served = (v: unknown): Served<T> => ({ value: v as T, readAt: e.readAt, ageMs: Math.max(0, this.now() - e.readAt), fromSnapshot: false });
    if (!signal) {
      return e.promise.then(served).finally(() => e.waiters--);
    }
    return new Promise<Served<T>>((resolve, reject) => {
      const onAbort = () => {
        settle();
        reject(signal.reason);
        if (e.waiters === 0) e.controller.abort(signal.reason);
      };
      let done = false;
      const settle = () => {
        if (done) return;
        done = true;
        e.waiters--;
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      e.promise.then(
        (v) => {
          settle();
          resolve(served(v));
        },
        (err: unknown) => {
          settle();
          reject(err);
        },
      );
    });
  }

  /** Reads in flight (for tests and metrics). */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** Reads kept right now (for tests and metrics). */
  get keptCount(): number {
    return this.kept.size;
  }

  /** How callers were answered so far: from a snapshot, by joining a read in flight, by a read of their own. */
  get counts(): { snapshot: number; joined: number; read: number } {
    return { ...this.served };
  }
}

/**
 * Identical reads in flight share one trip to the NAS.
 *
 * Two hundred `status` calls that arrive together would otherwise repeat the
 * same Engine API list/inspect and SFTP reads two hundred times on a NAS with
 * two cores. A caller joins a read only while it is in flight and only if no
 * write happened since that read began (`invalidate()` bumps a generation):
 * a joiner never gets an answer older than the last write it could know of,
 * and nothing is cached once the read settles.
 */
export class ReadCoalescer {
  private generation = 0;
  private readonly inflight = new Map<string, { generation: number; promise: Promise<unknown>; waiters: number; controller: AbortController }>();

  /** Every write (an operation's phase change or end) makes later readers start afresh. */
  invalidate(): void {
    this.generation++;
  }

  /**
   * Runs `read` or joins the identical one in flight. The shared read is
   * cancelled only when every caller waiting for it has given up.
   */
  run<T>(key: string, read: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    let entry = this.inflight.get(key);
    if (!entry || entry.generation !== this.generation) {
      const controller = new AbortController();
      const promise = read(controller.signal);
      const created = { generation: this.generation, promise, waiters: 0, controller };
      const forget = () => {
        if (this.inflight.get(key) === created) this.inflight.delete(key);
      };
      promise.then(forget, forget);
      this.inflight.set(key, created);
      entry = created;
    }
    const e = entry;
    e.waiters++;
    const result = e.promise as Promise<T>;
    if (!signal) return result.finally(() => e.waiters--);
    return new Promise<T>((resolve, reject) => {
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
      result.then(
        (v) => {
          settle();
          resolve(v);
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
}

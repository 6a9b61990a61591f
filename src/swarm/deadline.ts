/**
 * A read that must answer within a deadline, whatever the other end does.
 *
 * The Engine's log streams of a Swarm service sometimes never end (a known
 * Docker bug after an update): waiting on the transport's own 60 s bound,
 * which a GET even retries once, leaves an operator with nothing for two
 * minutes. Here the read gets its own signal, aborted at the deadline (the
 * channel is freed, and an aborted GET is not retried), and the caller gets
 * a DeadlineExceeded at the deadline even if the read ignores its signal.
 */

export class DeadlineExceeded extends Error {
  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`${what} did not answer within ${formatMs(ms)}`);
    this.name = 'DeadlineExceeded';
  }
}

/** `8 s`, `1.5 s`, `500 ms`: how a deadline reads in a message. */
export function formatMs(ms: number): string {
  return ms >= 1000 ? `${Number((ms / 1000).toFixed(1))} s` : `${ms} ms`;
}

/**
 * Runs `read` with a signal aborted at `ms` or when `signal` aborts. Rejects
 * with DeadlineExceeded at the deadline, with the caller's abort reason when
 * the caller cancels, else settles as `read` does.
 */
export function withDeadline<T>(what: string, ms: number, signal: AbortSignal | undefined, read: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const inner = new AbortController();
  if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const bound = new Promise<never>((_, reject) => {
    // Settle first, then abort: a read that rejects at once on its abort must not win the race with its own error.
    timer = setTimeout(() => {
      const e = new DeadlineExceeded(what, ms);
      reject(e);
      inner.abort(e);
    }, ms);
    onAbort = () => {
      const reason = signal!.reason instanceof Error ? signal!.reason : new Error('aborted');
      reject(reason);
      inner.abort(reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  let running: Promise<T>;
  try {
    running = read(inner.signal);
  } catch (e) {
    running = Promise.reject(e);
  }
  // race() handles a read that rejects after the deadline (its abort): no unhandled rejection.
  return Promise.race([running, bound]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/**
 * A tiny fixed-window rate limiter per client IP: `limit` requests per
 * minute, then 429 with `Retry-After` until the window rolls over. Memory is
 * bounded: the whole table is dropped at each new window.
 */
import type { Request, RequestHandler } from 'express';

export interface RateLimitOptions {
  perMinute: number;
  windowMs?: number;
  now?: () => number;
  /** Client key (default: the socket's remote address). */
  keyOf?: (req: Request) => string;
}

export function rateLimit(opts: RateLimitOptions): RequestHandler {
  const windowMs = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const keyOf = opts.keyOf ?? ((req: Request) => req.socket.remoteAddress ?? 'unknown');
  let windowStart = now();
  let counts = new Map<string, number>();
  return (req, res, next) => {
    const t = now();
    if (t - windowStart >= windowMs) {
      windowStart = t - ((t - windowStart) % windowMs);
      counts = new Map();
    }
    const key = keyOf(req);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    if (n > opts.perMinute) {
      const retryAfter = Math.max(1, Math.ceil((windowStart + windowMs - t) / 1000));
      res
        .status(429)
        .set('Retry-After', String(retryAfter))
        .json({ jsonrpc: '2.0', error: { code: -32000, message: `Too many requests; retry after ${retryAfter} s` }, id: null });
      return;
    }
    next();
  };
}

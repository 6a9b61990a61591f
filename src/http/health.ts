/**
 * `GET /healthz` (no auth): `{ ok: true, nasReachable }`. The NAS probe is
 * cached for a few seconds, shared by concurrent requests, bounded in time,
 * and its errors are swallowed: nothing about the NAS (host, error text)
 * leaks to an unauthenticated caller.
 */
import type { RequestHandler } from 'express';
import type { Logger } from '../log.js';

export interface HealthOptions {
  probe: () => Promise<boolean>;
  log: Logger;
  ttlMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

export function cachedProbe(opts: HealthOptions): () => Promise<boolean> {
  const ttl = opts.ttlMs ?? 5_000;
  const timeout = opts.timeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;
  let cached: { at: number; value: boolean } | null = null;
  let inflight: Promise<boolean> | null = null;
  const run = async (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        opts.probe().then((v) => v === true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), timeout);
          timer.unref();
        }),
      ]);
    } catch (e) {
      opts.log.debug({ err: (e as Error)?.message }, 'NAS probe failed');
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    if (cached && now() - cached.at < ttl) return Promise.resolve(cached.value);
    inflight ??= run()
      .then((value) => {
        cached = { at: now(), value };
        return value;
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  };
}

export function healthHandler(opts: HealthOptions): RequestHandler {
  const probe = cachedProbe(opts);
  return async (_req, res) => {
    const nasReachable = await probe();
    res.set('Cache-Control', 'no-store').json({ ok: true, nasReachable });
  };
}

/**
 * Rate limits that protect without locking anyone out (express-rate-limit,
 * memory store, fixed windows):
 *
 * - **pre-auth, per client address** (small): every request that carries no
 *   valid credentials: no or a wrong bearer token on an MCP route, the OAuth
 *   endpoints, `/.well-known`, unknown routes. IPv6 addresses count per /56,
 *   so rotating through one's own prefix does not help.
 * - **per principal, after auth** (the main limit): a token or OAuth client
 *   (`req.auth.clientId`) counts its own requests only.
 *
 * An authenticated request never touches the pre-auth bucket, so a flood of
 * anonymous requests (even from the reverse proxy's address, which every
 * client shares when `auth.trustProxy` is not set) cannot make an authorized
 * client see 429. `/healthz` is mounted before all of this and counts nowhere:
 * it answers from a cache, costs less than a 429 would, and a limit on it
 * would only let a flood fake an outage to the monitor.
 */
import { ipKeyGenerator, rateLimit, type RateLimitRequestHandler } from 'express-rate-limit';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

/** Routes that authenticate with a bearer token; everything else is pre-auth. */
export const MCP_PATHS: ReadonlySet<string> = new Set(['/mcp', '/sse', '/messages']);

/** Express routes match case-insensitively and with a trailing slash: so does this. */
export function isMcpPath(path: string): boolean {
  return MCP_PATHS.has(path.replace(/\/+$/, '').toLowerCase());
}

export interface RateLimitsOptions {
  /** Unauthenticated requests per window per client address. */
  preAuthPerMinute: number;
  /** Authenticated requests per window per principal. */
  perPrincipalPerMinute: number;
  /** Window length (default one minute). */
  windowMs?: number;
  /**
   * False with `--no-auth` (loopback only): every MCP request is the
   * anonymous principal's, so none counts against its address.
   */
  authRequired?: boolean;
}

export interface RateLimits {
  /**
   * Mount before the Host check and the OAuth router. Counts, per address,
   * every request except MCP routes presenting an Authorization header: those
   * are decided by auth (`onAuthFailure` / `perPrincipal`).
   */
  preAuth: RequestHandler;
  /**
   * Auth refused the request: count it against the address unless `preAuth`
   * already did; over the limit → 429, otherwise `refuse()` (the 401).
   */
  onAuthFailure(req: Request, res: Response, next: NextFunction, refuse: () => void): void;
  /** Mount right after auth: counts per `req.auth.clientId`. */
  perPrincipal: RequestHandler;
}

/** The client address as Express resolved it (`trust proxy`), IPv6 folded to its /56. */
export function addressKey(req: Request): string {
  return `addr:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`;
}

function principalKey(req: Request): string {
  const auth = (req as Request & { auth?: { clientId?: string } }).auth;
  return `principal:${auth?.clientId ?? 'unknown'}`;
}

function tooMany(req: Request, res: Response, why: string): void {
  const info = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit;
  const retryAfter = Math.max(1, Math.ceil(((info?.resetTime?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000));
  res.status(429).set('Retry-After', String(retryAfter));
  const message = `Too many requests ${why}; retry after ${retryAfter} s`;
  if (isMcpPath(req.path)) {
    res.json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null });
  } else {
    res.json({ error: 'too_many_requests', error_description: message });
  }
}

export function createRateLimits(opts: RateLimitsOptions): RateLimits {
  const windowMs = opts.windowMs ?? 60_000;
  const authRequired = opts.authRequired ?? true;
  // Requests already counted against their address (so an auth failure is not counted twice).
  const counted = new WeakSet<Request>();
  const common = {
    windowMs,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    // Our keys are already IPv6-safe; trust proxy `true` is refused by the config.
    validate: { keyGeneratorIpFallback: false, trustProxy: false, xForwardedForHeader: false, singleCount: false },
  };
  const byAddress: RateLimitRequestHandler = rateLimit({
    ...common,
    limit: opts.preAuthPerMinute,
    keyGenerator: (req) => addressKey(req),
    handler: (req, res) => tooMany(req, res, 'from this address without valid credentials'),
  });
  const byPrincipal: RateLimitRequestHandler = rateLimit({
    ...common,
    limit: opts.perPrincipalPerMinute,
    keyGenerator: (req) => principalKey(req),
    handler: (req, res) => tooMany(req, res, 'for this client'),
  });

  const preAuth: RequestHandler = (req, res, next) => {
    if (isMcpPath(req.path) && (!authRequired || req.headers.authorization !== undefined)) return next();
    counted.add(req);
    return byAddress(req, res, next);
  };

  const onAuthFailure = (req: Request, res: Response, next: NextFunction, refuse: () => void): void => {
    if (counted.has(req)) return refuse();
    counted.add(req);
    void byAddress(req, res, (err?: unknown) => (err ? next(err) : refuse()));
  };

  return { preAuth, onAuthFailure, perPrincipal: byPrincipal };
}

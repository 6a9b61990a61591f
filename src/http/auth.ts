/**
 * Bearer-token authentication for the MCP routes (/mcp, /sse, /messages).
 *
 * The token is compared in constant time over sha256 digests, so neither its
 * content nor its length leaks through timing. A failed check answers 401
 * with `WWW-Authenticate: Bearer realm="loop-ops-mcp"` (plus
 * `error="invalid_token"` when a wrong token was presented), as RFC 6750 asks.
 *
 * On success `req.auth` (the SDK's `AuthInfo`) is set; the transports pass it
 * to request handlers, where it becomes the caller (id + scopes) of a tool call.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { OAuthTokenVerifier } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ALL_SCOPES } from '../tools/guard.js';

export const REALM = 'loop-ops-mcp';

export type AuthedRequest = Request & { auth?: AuthInfo };

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Short, non-reversible id of a token for logs and the audit trail. */
export function tokenFingerprint(token: string): string {
  return sha256(token).toString('hex').slice(0, 12);
}

export interface OAuthVerification {
  verifier: OAuthTokenVerifier;
  /** `<publicBaseUrl>/.well-known/oauth-protected-resource`, announced on every 401. */
  resourceMetadataUrl: string;
  /** `<publicBaseUrl>/mcp`: tokens issued for another resource are refused. */
  resource: string;
}

export interface BearerAuthOptions {
  /** The configured token; undefined = auth disabled (only with --no-auth on loopback) unless OAuth is on. */
  token: string | undefined;
  /** OAuth on: tokens that are not the static one are checked by the authorization server's store. */
  oauth?: OAuthVerification;
  /**
   * Called instead of answering 401 at once (the pre-auth rate limit counts
   * the failure and may answer 429); `refuse()` sends the 401.
   */
  onFailure?: (req: Request, res: Response, next: NextFunction, refuse: () => void) => void;
}

type Refuse = (req: Request, res: Response, next: NextFunction, invalid: boolean, description: string) => void;

function refuser(opts: BearerAuthOptions, resourceMetadataUrl?: string): Refuse {
  return (req, res, next, invalid, description) => {
    const refuse = () => unauthorized(res, invalid, description, resourceMetadataUrl);
    if (opts.onFailure) opts.onFailure(req, res, next, refuse);
    else refuse();
  };
}

function unauthorized(res: Response, invalid: boolean, description: string, resourceMetadataUrl?: string): void {
  const params = [`realm="${REALM}"`];
  if (invalid) params.push('error="invalid_token"', `error_description="${description}"`);
  if (resourceMetadataUrl) params.push(`resource_metadata="${resourceMetadataUrl}"`);
  res
    .status(401)
    .set('WWW-Authenticate', `Bearer ${params.join(', ')}`)
    .json({ error: invalid ? 'invalid_token' : 'unauthorized', error_description: description });
}

export function bearerAuth(opts: BearerAuthOptions): RequestHandler {
  const token = opts.token;
  if (opts.oauth) return combinedAuth(token, opts.oauth, refuser(opts, opts.oauth.resourceMetadataUrl));
  const fail = refuser(opts);
  if (!token) {
    const anonymous: AuthInfo = { token: '', clientId: 'anonymous', scopes: [...ALL_SCOPES] };
    return (req: AuthedRequest, _res, next) => {
      req.auth = anonymous;
      next();
    };
  }
  const expected = sha256(token);
  const info: AuthInfo = {
    // Never carry the secret itself around in request context.
    token: tokenFingerprint(token),
    clientId: `token:${tokenFingerprint(token)}`,
    scopes: [...ALL_SCOPES],
  };
  return (req: AuthedRequest, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (!header) return fail(req, res, next, false, 'missing bearer token');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return fail(req, res, next, false, 'expected Authorization: Bearer <token>');
    const given = sha256(m[1]!);
    if (!timingSafeEqual(given, expected)) return fail(req, res, next, true, 'the token is not valid');
    req.auth = info;
    next();
  };
}

const sameResource = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/**
 * Static token (if configured) OR an OAuth access token. The static token
 * keeps all scopes and the caller id `token:<fp>`; an OAuth token carries its
 * granted scopes and `oauth:<client_id>`. Every 401 names the protected
 * resource metadata (RFC 9728) so clients can discover the authorization server.
 */
function combinedAuth(token: string | undefined, oauth: OAuthVerification, fail: Refuse): RequestHandler {
  const expected = token ? sha256(token) : undefined;
  const staticInfo: AuthInfo | undefined = token
    ? { token: tokenFingerprint(token), clientId: `token:${tokenFingerprint(token)}`, scopes: [...ALL_SCOPES] }
    : undefined;
  return async (req: AuthedRequest, res: Response, next: NextFunction) => {
    const header = req.headers.authorization;
    if (!header) return fail(req, res, next, false, 'missing bearer token');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) return fail(req, res, next, false, 'expected Authorization: Bearer <token>');
    const given = m[1]!;
    if (expected && staticInfo && timingSafeEqual(sha256(given), expected)) {
      req.auth = staticInfo;
      return next();
    }
    let info: AuthInfo;
    try {
      info = await oauth.verifier.verifyAccessToken(given);
    } catch (e) {
      if (e instanceof InvalidTokenError) return fail(req, res, next, true, e.message);
      return next(e);
    }
    if (!info.resource || !sameResource(info.resource.href, oauth.resource)) {
      return fail(req, res, next, true, 'the token was not issued for this resource');
    }
    req.auth = info;
    next();
  };
}

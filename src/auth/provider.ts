/**
 * loop-ops-mcp's own OAuth 2.1 authorization server (an `OAuthServerProvider`
 * for the SDK's `mcpAuthRouter`): dynamic client registration, authorization
 * code + PKCE S256 (the router checks the verifier), a consent page guarded by
 * the admin passphrase, rotating refresh tokens, revocation.
 *
 * Scopes: `ops:read`, `ops:write` (implies ops:read), `offline_access`
 * (refresh tokens are always issued; the scope is accepted and echoed).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import {
  InvalidClientMetadataError,
  InvalidGrantError,
  InvalidScopeError,
  InvalidTargetError,
  InvalidTokenError,
} from '@modelcontextprotocol/sdk/server/auth/errors.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { OAuthClientInformationFull, OAuthTokenRevocationRequest, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../log.js';
import { SCOPE_READ, SCOPE_WRITE } from '../tools/guard.js';
import { renderConsent, renderMessage, sendHtml } from './page.js';
import type { PassphraseHash } from './passphrase.js';
import { newSecret, sha256hex, type CodeRecord, type Grant, type OAuthStateStore } from './store.js';
import { FailureThrottle, type ThrottleOptions } from './throttle.js';

export const SCOPE_OFFLINE = 'offline_access';
export const SCOPES_SUPPORTED = [SCOPE_READ, SCOPE_WRITE, SCOPE_OFFLINE];
export const CONSENT_PATH = '/oauth/consent';

const CODE_TTL_MS = 5 * 60_000;
const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 1_000;
const MAX_ROTATED_KEPT = 20;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface ProviderOptions {
  store: OAuthStateStore;
  passphrase: PassphraseHash;
  /** Origin the server is reached at; the issuer. */
  publicBaseUrl: URL;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  log: Logger;
  now?: () => number;
  throttle?: ThrottleOptions;
  /** Registered clients kept at most; the oldest unused one is dropped to make room. */
  maxClients?: number;
}

interface Pending {
  clientId: string;
  redirectUri: string;
  state?: string;
  codeChallenge: string;
  requestedScopes: string[];
  resource: string;
  csrf: string;
  expiresAt: number;
}

/** Consent form body (urlencoded). */
interface ConsentBody {
  pending?: unknown;
  csrf?: unknown;
  passphrase?: unknown;
  access?: unknown;
  action?: unknown;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function stripSlash(u: string): string {
  return u.replace(/\/+$/, '');
}

/** Granted scopes for the chosen access level (+ offline_access when asked for). */
export function scopesFor(access: 'read' | 'write', requested: string[]): string[] {
  const s = access === 'write' ? [SCOPE_READ, SCOPE_WRITE] : [SCOPE_READ];
  if (requested.includes(SCOPE_OFFLINE)) s.push(SCOPE_OFFLINE);
  return s;
}

export class LoopOpsOAuthProvider implements OAuthServerProvider {
  readonly resourceUrl: string;
  private readonly pending = new Map<string, Pending>();
  private readonly throttle: FailureThrottle;
  private readonly now: () => number;
  private readonly log: Logger;
  readonly clientsStore: OAuthRegisteredClientsStore;

  constructor(private readonly opts: ProviderOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.resourceUrl = new URL('/mcp', opts.publicBaseUrl).href;
    this.throttle = new FailureThrottle({ now: this.now, ...opts.throttle });
    const store = opts.store;
    const maxClients = opts.maxClients ?? 200;
    this.clientsStore = {
      getClient: (id) => store.clients.get(id),
      registerClient: (client) => {
        const full = this.checkRegistration(client as OAuthClientInformationFull);
        if (store.clients.size >= maxClients) {
          const unused = [...store.clients.values()]
            .filter((c) => !store.grantIsUsed(c.client_id))
            .sort((a, b) => (a.client_id_issued_at ?? 0) - (b.client_id_issued_at ?? 0))[0];
          if (!unused) throw new InvalidClientMetadataError('too many registered clients');
          store.removeClient(unused.client_id);
        }
        store.clients.set(full.client_id, full);
        store.save();
        this.log.info(
          { client_id: full.client_id, client_name: full.client_name, redirect_uris: full.redirect_uris },
          'OAuth client registered',
        );
        return full;
      },
    };
  }

  private checkRegistration(client: OAuthClientInformationFull): OAuthClientInformationFull {
    if (!client.client_id) throw new InvalidClientMetadataError('client_id generation is required');
    const uris = client.redirect_uris ?? [];
    if (!uris.length || uris.length > 10) throw new InvalidClientMetadataError('1 to 10 redirect_uris are required');
    for (const u of uris) {
      let url: URL;
      try {
        url = new URL(u);
      } catch {
        throw new InvalidClientMetadataError(`invalid redirect_uri: ${u}`);
      }
      const ok = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
      if (!ok) throw new InvalidClientMetadataError('redirect_uris must be https (or http on localhost)');
      if (url.hash || url.username || url.password) throw new InvalidClientMetadataError('redirect_uris must not carry a fragment or credentials');
      if (u.length > 2_000) throw new InvalidClientMetadataError('redirect_uri too long');
    }
    const grants = client.grant_types ?? ['authorization_code', 'refresh_token'];
    if (grants.some((g) => g !== 'authorization_code' && g !== 'refresh_token')) {
      throw new InvalidClientMetadataError('only the authorization_code and refresh_token grant types are supported');
    }
    if ((client.response_types ?? ['code']).some((r) => r !== 'code')) {
      throw new InvalidClientMetadataError('only the "code" response type is supported');
    }
    const method = client.token_endpoint_auth_method ?? 'client_secret_post';
    if (method !== 'none' && method !== 'client_secret_post') {
      throw new InvalidClientMetadataError('token_endpoint_auth_method must be "none" or "client_secret_post"');
    }
    return {
      ...client,
      ...(client.client_name !== undefined ? { client_name: client.client_name.slice(0, 100) } : {}),
      grant_types: grants,
      response_types: ['code'],
      token_endpoint_auth_method: method,
    };
  }

  private checkResource(resource: URL | string | undefined): void {
    if (resource === undefined) return;
    if (stripSlash(String(resource)) !== stripSlash(this.resourceUrl)) {
      throw new InvalidTargetError(`unknown resource; this server is ${this.resourceUrl}`);
    }
  }

  // --- authorization endpoint: render the consent page -------------------

  async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: Response): Promise<void> {
    this.checkResource(params.resource);
    const t = this.now();
    for (const [k, p] of this.pending) if (p.expiresAt <= t) this.pending.delete(k);
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    const requested = params.scopes ?? [];
    const unknown = requested.filter((s) => !SCOPES_SUPPORTED.includes(s));
    if (unknown.length) this.log.debug({ client_id: client.client_id, unknown }, 'ignoring unknown requested scopes');
    const id = randomBytes(24).toString('base64url');
    const p: Pending = {
      clientId: client.client_id,
      redirectUri: params.redirectUri,
      ...(params.state !== undefined ? { state: params.state } : {}),
      codeChallenge: params.codeChallenge,
      requestedScopes: requested,
      resource: this.resourceUrl,
      csrf: randomBytes(24).toString('base64url'),
      expiresAt: t + PENDING_TTL_MS,
    };
    this.pending.set(id, p);
    this.renderConsentPage(res, 200, id, p, client);
  }

  private renderConsentPage(res: Response, status: number, id: string, p: Pending, client: OAuthClientInformationFull | undefined, error?: string): void {
    sendHtml(
      res,
      status,
      (nonce) =>
        renderConsent(
          {
            clientName: client?.client_name || '(unnamed application)',
            clientId: p.clientId,
            redirectUri: p.redirectUri,
            pendingId: id,
            csrf: p.csrf,
            preselectWrite: p.requestedScopes.includes(SCOPE_WRITE),
            resource: p.resource,
            ...(error ? { error } : {}),
          },
          nonce,
        ),
      new URL(p.redirectUri).origin,
    );
  }

  private redirectWith(res: Response, p: Pending, params: Record<string, string>): void {
    const u = new URL(p.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (p.state !== undefined) u.searchParams.set('state', p.state);
    res.set('Cache-Control', 'no-store').redirect(302, u.href);
  }

  /** POST /oauth/consent: the form of the consent page. */
  consentHandler(): RequestHandler {
    const router = express.Router();
    router.use(CONSENT_PATH, express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }));
    router.post(CONSENT_PATH, async (req: Request, res: Response) => {
      const body = (req.body ?? {}) as ConsentBody;
      const id = str(body.pending);
      const p = id ? this.pending.get(id) : undefined;
      if (!p || p.expiresAt <= this.now()) {
        if (p) this.pending.delete(id);
        return sendHtml(res, 400, (n) =>
          renderMessage('Authorization expired', 'This authorization request is unknown or has expired. Start the connection again from your application.', n),
        );
      }
      if (!sameSecret(str(body.csrf), p.csrf)) {
        this.log.warn({ ip: req.ip, client_id: p.clientId }, 'consent form with a wrong CSRF token');
        return sendHtml(res, 403, (n) => renderMessage('Request refused', 'The form token does not match. Start the connection again.', n));
      }
      const client = this.opts.store.clients.get(p.clientId);
      if (!client) {
        this.pending.delete(id);
        return sendHtml(res, 400, (n) => renderMessage('Unknown application', 'This application is no longer registered. Start again.', n));
      }
      if (str(body.action) === 'deny') {
        this.pending.delete(id);
        this.log.info({ client_id: p.clientId }, 'OAuth consent denied');
        return this.redirectWith(res, p, { error: 'access_denied', error_description: 'the owner denied access' });
      }
      const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const wait = this.throttle.waitMs(ip);
      if (wait > 0) {
        const s = Math.ceil(wait / 1000);
        res.set('Retry-After', String(s));
        return this.renderConsentPage(res, 429, id, p, client, `Too many wrong passphrases. Wait ${s} s before trying again.`);
      }
      const access = str(body.access);
      if (access !== 'read' && access !== 'write') {
        return this.renderConsentPage(res, 400, id, p, client, 'Choose read-only or full access.');
      }
      if (!(await this.opts.passphrase.verify(str(body.passphrase)))) {
        const { failures, delayMs } = this.throttle.fail(ip);
        this.log.warn({ ip, client_id: p.clientId, failures, delayMs }, 'wrong admin passphrase on the OAuth consent page');
        return this.renderConsentPage(res, 401, id, p, client, 'Wrong passphrase.');
      }
      this.throttle.succeed(ip);
      this.pending.delete(id);
      const scopes = scopesFor(access, p.requestedScopes);
      const code = newSecret('ac');
      const rec: CodeRecord = {
        clientId: p.clientId,
        grantScopes: scopes,
        resource: p.resource,
        codeChallenge: p.codeChallenge,
        redirectUri: p.redirectUri,
        expiresAt: this.now() + CODE_TTL_MS,
      };
      this.opts.store.codes.set(sha256hex(code), rec);
      this.opts.store.save();
      this.log.info({ client_id: p.clientId, client_name: client.client_name, scopes }, 'OAuth consent granted');
      return this.redirectWith(res, p, { code });
    });
    return router;
  }

  // --- token endpoint -----------------------------------------------------

  private liveCode(client: OAuthClientInformationFull, code: string): { key: string; rec: CodeRecord & { grantId?: string } } {
    const key = sha256hex(code);
    const rec = this.opts.store.codes.get(key) as (CodeRecord & { grantId?: string }) | undefined;
    if (!rec || rec.expiresAt <= this.now() || rec.clientId !== client.client_id) {
      throw new InvalidGrantError('invalid or expired authorization code');
    }
    return { key, rec };
  }

  async challengeForAuthorizationCode(client: OAuthClientInformationFull, authorizationCode: string): Promise<string> {
    const { rec } = this.liveCode(client, authorizationCode);
    if (rec.grantId) this.codeReused(rec.grantId);
    return rec.codeChallenge;
  }

  private codeReused(grantId: string): never {
    // A code presented twice: whoever holds the first tokens may be an attacker; end the grant.
    this.opts.store.revokeGrant(grantId);
    this.opts.store.save();
    this.log.warn({ grantId }, 'authorization code reused: its grant is revoked');
    throw new InvalidGrantError('authorization code already used');
  }

  async exchangeAuthorizationCode(
    client: OAuthClientInformationFull,
    authorizationCode: string,
    _codeVerifier?: string,
    redirectUri?: string,
    resource?: URL,
  ): Promise<OAuthTokens> {
    const { rec } = this.liveCode(client, authorizationCode);
    if (rec.grantId) this.codeReused(rec.grantId);
    if (redirectUri !== undefined && redirectUri !== rec.redirectUri) throw new InvalidGrantError('redirect_uri does not match');
    this.checkResource(resource);
    const grant: Grant = {
      id: randomBytes(12).toString('base64url'),
      clientId: client.client_id,
      scopes: rec.grantScopes,
      resource: rec.resource,
      createdAt: this.now(),
      rotated: [],
    };
    this.opts.store.grants.set(grant.id, grant);
    rec.grantId = grant.id; // kept until the code expires, to detect reuse
    const tokens = this.issue(grant, grant.scopes);
    this.opts.store.save();
    this.log.info({ client_id: client.client_id, scopes: grant.scopes }, 'OAuth tokens issued');
    return tokens;
  }

  private issue(grant: Grant, scopes: string[]): OAuthTokens {
    const t = this.now();
    const access = newSecret('at');
    const refresh = newSecret('rt');
    const ttl = this.opts.accessTokenTtlSeconds;
    const narrowed = scopes.length !== grant.scopes.length || scopes.some((s) => !grant.scopes.includes(s));
    this.opts.store.accessTokens.set(sha256hex(access), { grantId: grant.id, expiresAt: t + ttl * 1000, ...(narrowed ? { scopes } : {}) });
    this.opts.store.refreshTokens.set(sha256hex(refresh), { grantId: grant.id, expiresAt: t + this.opts.refreshTokenTtlDays * 86_400_000 });
    return { access_token: access, token_type: 'Bearer', expires_in: ttl, refresh_token: refresh, scope: scopes.join(' ') };
  }

  async exchangeRefreshToken(client: OAuthClientInformationFull, refreshToken: string, scopes?: string[], resource?: URL): Promise<OAuthTokens> {
    const store = this.opts.store;
    const key = sha256hex(refreshToken);
    const rec = store.refreshTokens.get(key);
    if (!rec) {
      for (const g of store.grants.values()) {
        if (g.rotated.includes(key)) {
          store.revokeGrant(g.id);
          store.save();
          this.log.warn({ client_id: g.clientId }, 'a rotated refresh token was used again: the grant is revoked');
          break;
        }
      }
      throw new InvalidGrantError('invalid refresh token');
    }
    const grant = store.grants.get(rec.grantId);
    if (!grant || rec.expiresAt <= this.now()) throw new InvalidGrantError('invalid or expired refresh token');
    if (grant.clientId !== client.client_id) throw new InvalidGrantError('refresh token was issued to another client');
    this.checkResource(resource);
    let granted = grant.scopes;
    if (scopes?.length) {
      const extra = scopes.filter((s) => !grant.scopes.includes(s));
      if (extra.length) throw new InvalidScopeError(`scopes not granted: ${extra.join(' ')}`);
      granted = scopes;
      if (granted.includes(SCOPE_WRITE) && !granted.includes(SCOPE_READ)) granted = [SCOPE_READ, ...granted];
    }
    store.refreshTokens.delete(key);
    grant.rotated = [...grant.rotated, key].slice(-MAX_ROTATED_KEPT);
    const tokens = this.issue(grant, granted);
    store.save();
    return tokens;
  }

  // --- resource server: token verification ---------------------------------

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const store = this.opts.store;
    const rec = store.accessTokens.get(sha256hex(token));
    const grant = rec ? store.grants.get(rec.grantId) : undefined;
    if (!rec || !grant || !store.clients.has(grant.clientId)) throw new InvalidTokenError('the token is not valid');
    if (rec.expiresAt <= this.now()) throw new InvalidTokenError('the token has expired');
    return {
      token: sha256hex(token).slice(0, 12),
      clientId: `oauth:${grant.clientId}`,
      scopes: (rec.scopes ?? grant.scopes).filter((s) => s !== SCOPE_OFFLINE),
      expiresAt: Math.floor(rec.expiresAt / 1000),
      resource: new URL(grant.resource),
    };
  }

  // --- revocation -------------------------------------------------------------

  async revokeToken(client: OAuthClientInformationFull, request: OAuthTokenRevocationRequest): Promise<void> {
    const store = this.opts.store;
    const key = sha256hex(request.token);
    const at = store.accessTokens.get(key);
    if (at && store.grants.get(at.grantId)?.clientId === client.client_id) {
      store.accessTokens.delete(key);
      store.save();
      this.log.info({ client_id: client.client_id }, 'OAuth access token revoked');
      return;
    }
    const rt = store.refreshTokens.get(key);
    if (rt && store.grants.get(rt.grantId)?.clientId === client.client_id) {
      store.revokeGrant(rt.grantId);
      store.save();
      this.log.info({ client_id: client.client_id }, 'OAuth refresh token revoked (with its grant)');
    }
  }

  /** Operator action: forget a client and end all its access at once. */
  revokeClient(clientId: string): boolean {
    const had = this.opts.store.removeClient(clientId);
    this.opts.store.save();
    if (had) this.log.warn({ client_id: clientId }, 'OAuth client revoked');
    return had;
  }
}

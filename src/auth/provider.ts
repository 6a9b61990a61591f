/**
 * loop-ops-mcp's own OAuth 2.1 authorization server (an `OAuthServerProvider`
 * for the SDK's `mcpAuthRouter`): dynamic client registration restricted to
 * allowed redirect hosts, Client ID Metadata Documents, authorization code +
 * PKCE S256 (the router checks the verifier), a consent page guarded by the
 * admin passphrase (read-only preselected), rotating refresh tokens,
 * revocation, `iss` in every authorization response (RFC 9207).
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
import { redirectUriMatches } from '@modelcontextprotocol/sdk/server/auth/handlers/authorize.js';
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { Logger } from '../log.js';
import { SCOPE_READ, SCOPE_WRITE } from '../tools/guard.js';
import { MAX_REDIRECT_URI_LENGTH, type RedirectHostAllowlist } from './allowlist.js';
import { ClientMetadataDocuments, isUrlClientId, MAX_CLIENT_NAME_LENGTH, MAX_REDIRECT_URIS, MetadataDocumentError } from './metadataDocument.js';
import { renderConsent, renderMessage, sendHtml } from './page.js';
import type { PassphraseHash } from './passphrase.js';
import { newSecret, secretMatches, sha256hex, type CodeRecord, type Grant, type OAuthStateStore, type StoredClient } from './store.js';
import { PassphraseGate, type GateOptions } from './throttle.js';

export const SCOPE_OFFLINE = 'offline_access';
export const SCOPES_SUPPORTED = [SCOPE_READ, SCOPE_WRITE, SCOPE_OFFLINE];
export const CONSENT_PATH = '/oauth/consent';

const CODE_TTL_MS = 5 * 60_000;
const PENDING_TTL_MS = 10 * 60_000;
const MAX_PENDING = 1_000;
const MAX_ROTATED_KEPT = 20;

export interface ProviderOptions {
  store: OAuthStateStore;
  passphrase: PassphraseHash;
  /** Origin the server is reached at; the issuer. */
  publicBaseUrl: URL;
  accessTokenTtlSeconds: number;
  refreshTokenTtlDays: number;
  log: Logger;
  allowlist: RedirectHostAllowlist;
  documents: ClientMetadataDocuments;
  now?: () => number;
  throttle?: GateOptions;
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
  /** The client as shown on the consent page (a document's client is not stored before consent). */
  client: StoredClient;
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

/** RFC 7591 fields a registration may carry that this server keeps or checks. */
interface RegistrationRequest {
  client_id?: string;
  client_secret?: string;
  client_id_issued_at?: number;
  client_name?: string;
  redirect_uris?: string[];
  grant_types?: string[];
  response_types?: string[];
  token_endpoint_auth_method?: string;
}

/** Why consent was refused at the gate, in the owner's words. */
const GATE_MESSAGES = {
  'in-flight': 'A passphrase from this address is being checked already. Wait a moment and try again.',
  'back-off': 'Too many wrong passphrases. Wait {s} s before trying again.',
  budget: 'Too many wrong passphrases recently, from all addresses together. Consent is paused for {s} s.',
  busy: 'The server is checking other passphrases. Try again in a moment.',
} as const;

export class LoopOpsOAuthProvider implements OAuthServerProvider {
  readonly resourceUrl: string;
  /** The issuer as metadata states it (RFC 9207 `iss`). */
  readonly issuer: string;
  private readonly pending = new Map<string, Pending>();
  private readonly gate: PassphraseGate;
  private readonly now: () => number;
  private readonly log: Logger;
  readonly clientsStore: OAuthRegisteredClientsStore;
  /**
   * What `getClient` reports as a confidential client's secret: random per
   * process, never stored or sent. The SDK compares the presented secret
   * with it by `!==`; {@link clientAuthentication} checks the real one
   * (against its stored digest, constant time) and only then substitutes
   * this value. A request that skipped that check cannot know it.
   */
  private readonly secretStandIn = randomBytes(32).toString('base64url');
  /** Passphrases actually checked with scrypt (tests, logs). */
  passphraseChecks = 0;

  constructor(private readonly opts: ProviderOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.resourceUrl = new URL('/mcp', opts.publicBaseUrl).href;
    this.issuer = opts.publicBaseUrl.href;
    this.gate = new PassphraseGate({ now: this.now, ...opts.throttle });
    const store = opts.store;
    const maxClients = opts.maxClients ?? 200;
    this.clientsStore = {
      getClient: async (id) => {
        const c = await this.findClient(id);
        return c ? this.sdkView(c) : undefined;
      },
      registerClient: (client) => {
        store.syncFromDisk();
        const { stored, response } = this.checkRegistration(client as RegistrationRequest);
        this.makeRoom(maxClients);
        store.clients.set(stored.client_id, stored);
        store.save();
        this.log.info({ client_id: stored.client_id, client_name: stored.client_name, redirect_uris: stored.redirect_uris }, 'OAuth client registered');
        return response;
      },
    };
  }

  private makeRoom(maxClients: number): void {
    const store = this.opts.store;
    if (store.clients.size < maxClients) return;
    const unused = [...store.clients.values()]
      .filter((c) => !store.grantIsUsed(c.client_id))
      .sort((a, b) => a.client_id_issued_at - b.client_id_issued_at)[0];
    if (!unused) throw new InvalidClientMetadataError('too many registered clients');
    store.removeClient(unused.client_id);
  }

  /** A registered client, or the client a metadata document URL describes (undefined if neither). */
  async findClient(id: string): Promise<StoredClient | undefined> {
    try {
      return await this.resolveClient(id);
    } catch (e) {
      if (e instanceof MetadataDocumentError) return undefined;
      throw e;
    }
  }

  /** Like findClient, but says why a metadata document was refused (MetadataDocumentError). */
  async resolveClient(id: string): Promise<StoredClient | undefined> {
    if (typeof id !== 'string' || !id || id.length > 1_000) return undefined;
    if (isUrlClientId(id)) return this.opts.documents.resolve(id);
    this.opts.store.syncFromDisk();
    return this.opts.store.clients.get(id);
  }

  /** The SDK's view of a client (see secretStandIn). */
  private sdkView(c: StoredClient): OAuthClientInformationFull {
    return {
      client_id: c.client_id,
      redirect_uris: c.redirect_uris,
      ...(c.client_name !== undefined ? { client_name: c.client_name } : {}),
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      client_id_issued_at: c.client_id_issued_at,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      ...(c.client_secret_sha256 ? { client_secret: this.secretStandIn } : {}),
    };
  }

  /**
   * In front of the SDK's /token and /revoke: a confidential client's secret
   * is checked against its stored sha256 in constant time; a wrong or
   * missing one is refused here, a right one replaced by the stand-in the
   * SDK expects.
   */
  clientAuthentication(): RequestHandler {
    const parse = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });
    return (req, res, next) => {
      if (req.method !== 'POST') return next();
      parse(req, res, (err?: unknown) => {
        if (err) return next(err);
        const body = (req.body ?? {}) as Record<string, unknown>;
        const id = body.client_id;
        if (typeof id !== 'string' || isUrlClientId(id)) return next();
        this.opts.store.syncFromDisk();
        const c = this.opts.store.clients.get(id);
        if (!c?.client_secret_sha256) return next();
        const presented = body.client_secret;
        if (typeof presented !== 'string' || !secretMatches(presented, c.client_secret_sha256)) {
          res.set('Cache-Control', 'no-store');
          res.status(400).json({ error: 'invalid_client', error_description: presented === undefined ? 'Client secret is required' : 'Invalid client_secret' });
          return;
        }
        body.client_secret = this.secretStandIn;
        next();
      });
    };
  }

  private checkRegistration(client: RegistrationRequest): { stored: StoredClient; response: OAuthClientInformationFull } {
    if (!client.client_id) throw new InvalidClientMetadataError('client_id generation is required');
    const uris = client.redirect_uris ?? [];
    if (!uris.length || uris.length > MAX_REDIRECT_URIS) throw new InvalidClientMetadataError(`1 to ${MAX_REDIRECT_URIS} redirect_uris are required`);
    for (const u of uris) {
      const why = this.opts.allowlist.redirectUriProblem(u);
      if (why) throw new InvalidClientMetadataError(why);
    }
    const name = client.client_name;
    if (name !== undefined && name.length > MAX_CLIENT_NAME_LENGTH) {
      throw new InvalidClientMetadataError(`client_name longer than ${MAX_CLIENT_NAME_LENGTH} characters`);
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
    const secret = method === 'client_secret_post' ? client.client_secret : undefined;
    if (method === 'client_secret_post' && !secret) throw new InvalidClientMetadataError('a client secret could not be issued');
    const stored: StoredClient = {
      client_id: client.client_id,
      ...(name ? { client_name: name } : {}),
      redirect_uris: [...uris],
      token_endpoint_auth_method: method,
      ...(secret ? { client_secret_sha256: sha256hex(secret) } : {}),
      client_id_issued_at: client.client_id_issued_at ?? Math.floor(this.now() / 1000),
    };
    // The answer carries the secret, once; the state file only its digest.
    const response: OAuthClientInformationFull = {
      client_id: stored.client_id,
      client_id_issued_at: stored.client_id_issued_at,
      ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
      ...(name ? { client_name: name } : {}),
      redirect_uris: stored.redirect_uris,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: method,
    };
    return { stored, response };
  }

  private resourceProblem(resource: URL | string | undefined): InvalidTargetError | null {
    if (resource === undefined) return null;
    if (stripSlash(String(resource)) !== stripSlash(this.resourceUrl)) {
      return new InvalidTargetError(`unknown resource; this server is ${this.resourceUrl}`);
    }
    return null;
  }

  private checkResource(resource: URL | string | undefined): void {
    const e = this.resourceProblem(resource);
    if (e) throw e;
  }

  /**
   * In front of the SDK's /authorize: anything wrong with the request that
   * the SDK would answer with a redirect (unsupported response_type, missing
   * PKCE…) or with bare JSON (unknown client, unregistered redirect URI,
   * refused metadata document) gets an error page here instead. Only a
   * valid request for a known client and one of its redirect URIs goes on.
   */
  authorizeRequestCheck(): RequestHandler {
    const parse = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 30 });
    return (req, res, next) => {
      if (req.method !== 'GET' && req.method !== 'POST') return next();
      parse(req, res, (err?: unknown) => {
        if (err) return next(err);
        const q = (req.method === 'POST' ? req.body : req.query) as Record<string, unknown>;
        this.authorizeProblem(q).then(
          (problem) => {
            if (!problem) return next();
            this.log.info({ client_id: typeof q.client_id === 'string' ? q.client_id.slice(0, 200) : undefined, problem }, 'authorization request refused');
            res.set('Cache-Control', 'no-store');
            sendHtml(res, 400, (n) => renderMessage('Authorization request refused', problem, n));
          },
          (e: unknown) => next(e),
        );
      });
    };
  }

  private async authorizeProblem(q: Record<string, unknown>): Promise<string | null> {
    const clientId = q.client_id;
    if (typeof clientId !== 'string' || !clientId) return 'The request names no client (client_id).';
    let client: StoredClient | undefined;
    try {
      client = await this.resolveClient(clientId);
    } catch (e) {
      if (e instanceof MetadataDocumentError) return `The client's metadata document was refused: ${e.message}.`;
      throw e;
    }
    if (!client) return 'Unknown client: it is not registered here (it may have been revoked). Start the connection again from your application.';
    const redirect = q.redirect_uri;
    if (redirect !== undefined) {
      if (typeof redirect !== 'string' || redirect.length > MAX_REDIRECT_URI_LENGTH) return 'Invalid redirect_uri.';
      if (!client.redirect_uris.some((r) => redirectUriMatches(redirect, r))) {
        return `The redirect_uri is not one this client ${client.metadataDocument ? 'lists in its metadata document' : 'registered'}.`;
      }
    } else if (client.redirect_uris.length !== 1) return 'redirect_uri is required (the client has several).';
    if (q.response_type !== 'code') return 'Unsupported response_type: only "code" is supported.';
    if (typeof q.code_challenge !== 'string' || !/^[A-Za-z0-9._~-]{43,128}$/.test(q.code_challenge)) {
      return 'A PKCE code_challenge (43 to 128 characters) is required.';
    }
    if (q.code_challenge_method !== 'S256') return 'code_challenge_method must be S256.';
    for (const k of ['scope', 'state', 'resource'] as const) {
      if (q[k] !== undefined && (typeof q[k] !== 'string' || q[k].length > 2_000)) return `Invalid ${k}.`;
    }
    if (typeof q.resource === 'string' && !URL.canParse(q.resource)) return 'resource must be a URL.';
    return null;
  }

  // --- authorization endpoint: render the consent page -------------------

  async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: Response): Promise<void> {
    const t = this.now();
    for (const [k, p] of this.pending) if (p.expiresAt <= t) this.pending.delete(k);
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value as string);
    const stored = await this.findClient(client.client_id);
    if (!stored) {
      sendHtml(res, 400, (n) => renderMessage('Unknown application', 'This application is not registered here. Start again.', n));
      return;
    }
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
      client: stored,
    };
    // Errors after the redirect URI is known go back to the client, with iss.
    const bad = this.resourceProblem(params.resource);
    if (bad) return this.redirectWith(res, p, { error: bad.errorCode, error_description: bad.message });
    this.pending.set(id, p);
    this.renderConsentPage(res, 200, id, p);
  }

  private renderConsentPage(res: Response, status: number, id: string, p: Pending, error?: string): void {
    sendHtml(
      res,
      status,
      (nonce) =>
        renderConsent(
          {
            clientName: p.client.client_name || '(unnamed application)',
            clientId: p.clientId,
            redirectUri: p.redirectUri,
            pendingId: id,
            csrf: p.csrf,
            resource: p.resource,
            ...(error ? { error } : {}),
          },
          nonce,
        ),
      new URL(p.redirectUri).origin,
    );
  }

  private redirectWith(res: Response, p: Pick<Pending, 'redirectUri' | 'state'>, params: Record<string, string>): void {
    const u = new URL(p.redirectUri);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    if (p.state !== undefined) u.searchParams.set('state', p.state);
    u.searchParams.set('iss', this.issuer);
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
      const client = await this.findClient(p.clientId);
      if (!client) {
        this.pending.delete(id);
        return sendHtml(res, 400, (n) => renderMessage('Unknown application', 'This application is no longer registered. Start again.', n));
      }
      p.client = client;
      if (str(body.action) === 'deny') {
        this.pending.delete(id);
        this.log.info({ client_id: p.clientId }, 'OAuth consent denied');
        return this.redirectWith(res, p, { error: 'access_denied', error_description: 'the owner denied access' });
      }
      const access = str(body.access);
      if (access !== 'read' && access !== 'write') {
        return this.renderConsentPage(res, 400, id, p, 'Choose read-only or full access.');
      }
      const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      // Marked before the slow check, so concurrent attempts see this one.
      const admission = this.gate.admit(ip);
      if (!admission.ok) {
        const s = Math.ceil(admission.retryAfterMs / 1000);
        res.set('Retry-After', String(s));
        if (admission.reason === 'budget') this.log.warn({ ip, client_id: p.clientId }, 'consent paused: global wrong-passphrase budget spent');
        return this.renderConsentPage(res, 429, id, p, GATE_MESSAGES[admission.reason].replace('{s}', String(s)));
      }
      let ok = false;
      try {
        this.passphraseChecks++;
        ok = await this.opts.passphrase.verify(str(body.passphrase));
      } finally {
        admission.done(ok);
      }
      if (!ok) {
        this.log.warn({ ip, client_id: p.clientId, failures: this.gate.failures(ip) }, 'wrong admin passphrase on the OAuth consent page');
        return this.renderConsentPage(res, 401, id, p, 'Wrong passphrase.');
      }
      if (!this.pending.has(id)) {
        // Approved twice at once: the first one won.
        return sendHtml(res, 400, (n) => renderMessage('Authorization expired', 'This authorization request was already used. Start again.', n));
      }
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
      const store = this.opts.store;
      store.syncFromDisk();
      // A metadata-document client is recorded at its first consent, so it can be listed and revoked.
      if (client.metadataDocument) {
        if (!store.clients.has(client.client_id)) this.makeRoom(this.opts.maxClients ?? 200);
        store.clients.set(client.client_id, client);
      }
      store.codes.set(sha256hex(code), rec);
      store.save();
      this.log.info({ client_id: p.clientId, client_name: client.client_name, scopes }, 'OAuth consent granted');
      return this.redirectWith(res, p, { code });
    });
    return router;
  }

  // --- token endpoint -----------------------------------------------------

  private liveCode(client: OAuthClientInformationFull, code: string): { key: string; rec: CodeRecord & { grantId?: string } } {
    this.opts.store.syncFromDisk();
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
    store.syncFromDisk();
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
    store.syncFromDisk();
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
    store.syncFromDisk();
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
    this.opts.store.syncFromDisk();
    const had = this.opts.store.removeClient(clientId);
    this.opts.store.save();
    if (had) this.log.warn({ client_id: clientId }, 'OAuth client revoked');
    return had;
  }
}

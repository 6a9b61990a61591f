/**
 * Wires the built-in OAuth 2.1 authorization server into the HTTP app:
 * the SDK's `mcpAuthRouter` (RFC 8414 metadata, /authorize, /token,
 * /register, /revoke, RFC 9728 metadata at
 * /.well-known/oauth-protected-resource/mcp) plus the same protected-resource
 * document at /.well-known/oauth-protected-resource, and our consent form.
 *
 * In front of the SDK's handlers: our authorization server metadata (adds
 * Client ID Metadata Document support and RFC 9207 `iss`), the /authorize
 * request check (error pages instead of redirects), the client secret check
 * of /token and /revoke (stored digests), and an 8 KiB cap on /register.
 */
import { metadataHandler } from '@modelcontextprotocol/sdk/server/auth/handlers/metadata.js';
import { createOAuthMetadata, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { OAuthMetadata, OAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import express, { type RequestHandler } from 'express';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { RedirectHostAllowlist } from './allowlist.js';
import { ClientMetadataDocuments, type ResolvedAddress } from './metadataDocument.js';
import { PassphraseHash } from './passphrase.js';
import { LoopOpsOAuthProvider, SCOPES_SUPPORTED } from './provider.js';
import { OAuthStateStore } from './store.js';
import type { GateOptions } from './throttle.js';

export { LoopOpsOAuthProvider, SCOPES_SUPPORTED } from './provider.js';

export interface OAuthRuntimeOptions {
  /** Clock (tests). */
  now?: () => number;
  throttle?: GateOptions;
  /** Pass-through to the SDK handlers' express-rate-limit (false disables; tests). */
  rateLimit?: false;
  /** Client ID Metadata Documents: accept loopback URLs, substitute DNS (tests only). */
  metadataDocuments?: { allowLoopback?: boolean; resolve?: (hostname: string) => Promise<ResolvedAddress[]>; timeoutMs?: number };
}

export interface OAuthSetup {
  provider: LoopOpsOAuthProvider;
  /** Mount at the app root, after the Host check. */
  router: RequestHandler;
  /** `<publicBaseUrl>/mcp` */
  resource: string;
  /** `<publicBaseUrl>/.well-known/oauth-protected-resource`, for WWW-Authenticate. */
  resourceMetadataUrl: string;
  publicHost: string;
}

export function setupOAuth(
  oauth: Config['auth']['oauth'],
  adminPassphrase: string,
  log: Logger,
  opts: OAuthRuntimeOptions = {},
): OAuthSetup {
  if (!oauth.publicBaseUrl || !oauth.stateFile) throw new Error('auth.oauth needs publicBaseUrl and stateFile');
  const base = new URL(oauth.publicBaseUrl);
  const store = OAuthStateStore.open(oauth.stateFile, opts.now);
  store.save(); // fail early (permissions) and create the file 0600
  const allowlist = new RedirectHostAllowlist(oauth.allowedRedirectHosts);
  const md = opts.metadataDocuments ?? {};
  const documents = new ClientMetadataDocuments({
    allowlist,
    ...(md.allowLoopback ? { allowLoopback: true } : {}),
    ...(md.resolve ? { resolve: md.resolve } : {}),
    ...(md.timeoutMs ? { timeoutMs: md.timeoutMs } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
  const provider = new LoopOpsOAuthProvider({
    allowlist,
    documents,
    store,
    passphrase: PassphraseHash.createSync(adminPassphrase),
    publicBaseUrl: base,
    accessTokenTtlSeconds: oauth.accessTokenTtlSeconds,
    refreshTokenTtlDays: oauth.refreshTokenTtlDays,
    log,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.throttle ? { throttle: opts.throttle } : {}),
  });
  const resource = new URL('/mcp', base);
  const rl = opts.rateLimit === false ? { rateLimit: false as const } : {};
  const routerOptions = {
    provider,
    issuerUrl: base,
    resourceServerUrl: resource,
    scopesSupported: SCOPES_SUPPORTED,
    resourceName: 'Loop Ops (loop-api on the NAS)',
  };
  const asMetadata: OAuthMetadata & { authorization_response_iss_parameter_supported: boolean } = {
    ...createOAuthMetadata(routerOptions),
    client_id_metadata_document_supported: true,
    authorization_response_iss_parameter_supported: true,
  };
  const sdkRouter = mcpAuthRouter({
    ...routerOptions,
    authorizationOptions: rl,
    tokenOptions: rl,
    revocationOptions: rl,
    clientRegistrationOptions: { ...rl, clientSecretExpirySeconds: 0 },
  });
  const prm: OAuthProtectedResourceMetadata = {
    resource: resource.href,
    authorization_servers: [base.href],
    scopes_supported: SCOPES_SUPPORTED,
    bearer_methods_supported: ['header'],
    resource_name: 'Loop Ops (loop-api on the NAS)',
  };
  const prmHandler = metadataHandler(prm);
  const router = express.Router();
  router.use(provider.consentHandler());
  router.use('/.well-known/oauth-authorization-server', metadataHandler(asMetadata));
  router.use('/authorize', provider.authorizeRequestCheck());
  router.use(['/token', '/revoke'], provider.clientAuthentication());
  router.use('/register', express.json({ limit: '8kb' }));
  // RFC 9728 root variant (the SDK serves the path-specific /mcp one).
  router.use('/.well-known/oauth-protected-resource', (req, res, next) => {
    if (req.path !== '/' && req.path !== '') return next();
    return prmHandler(req, res, next);
  });
  router.use(sdkRouter);
  log.info({ issuer: base.href, resource: resource.href, clients: store.clients.size, grants: store.grants.size }, 'OAuth authorization server on');
  return {
    provider,
    router,
    resource: resource.href,
    resourceMetadataUrl: new URL('/.well-known/oauth-protected-resource', base).href,
    publicHost: base.hostname,
  };
}

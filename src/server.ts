/**
 * The MCP server and its transports.
 *
 * - stdio (`runStdio`): one McpServer on stdin/stdout; nothing but JSON-RPC
 *   goes to stdout (the logger writes to stderr).
 * - HTTP (`createHttpApp` / `startHttp`, express 5):
 *   - Streamable HTTP at `/mcp` (POST/GET/DELETE), stateful;
 *   - legacy SSE: `GET /sse` + `POST /messages?sessionId=…`;
 *   one McpServer AND one transport per session (src/http/sessions.ts),
 *   idle sessions expire;
 *   - `GET /healthz` without auth;
 *   - OAuth 2.1 (config `auth.oauth.enabled`, src/auth/): the SDK's
 *     `mcpAuthRouter` (metadata, /authorize + consent page, /token,
 *     /register, /revoke) and RFC 9728 metadata; the static bearer token
 *     keeps working beside OAuth tokens;
 *   - `/.well-known/*` otherwise → 404 (without OAuth, a 404 keeps Claude
 *     from trying dynamic client registration);
 *   - rate limits (src/http/rateLimit.ts) → 429: a small one per client
 *     address for requests without valid credentials, the main one per
 *     principal after auth; Host header check → 403, bearer auth on every
 *     MCP route → 401, body limit → 413; sessions capped in total and per
 *     principal; header/request timeouts (408) and a connection cap on the
 *     HTTP server itself.
 *
 * Both build on one runtime (src/runtime.ts: services, inventory, guard,
 * close), shared with the human CLI. Every tool call, whatever the
 * transport, goes through src/tools/guard.ts. An HTTP session's McpServer is
 * created at `initialize`, once its credentials are known: it registers only
 * the tools the caller's scopes allow (stdio: all of them).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import express, { type ErrorRequestHandler, type Express, type Request, type RequestHandler, type Response } from 'express';
import { setupOAuth, type OAuthRuntimeOptions, type OAuthSetup } from './auth/index.js';
import { StateFileError } from './auth/store.js';
import type { Deps } from './deps.js';
import { bearerAuth, tokenFingerprint, type AuthedRequest } from './http/auth.js';
import { healthHandler } from './http/health.js';
import { hostCheck, isLoopbackHost, normalizeAllowedHost } from './http/hosts.js';
import { createRateLimits } from './http/rateLimit.js';
import { SessionRegistry } from './http/sessions.js';
import type { Logger } from './log.js';
import { metricsHandler } from './metrics/http.js';
import { registerResourcesAndPrompts } from './resources/register.js';
import { asRuntime, DEFAULT_DRAIN_TIMEOUT_MS, runtimeOf, type Runtime, type RuntimeOptions } from './runtime.js';
import { ALL_SCOPES, type Extra } from './tools/guard.js';
import type { Caller, TransportKind } from './tools/types.js';
import { registerUiResources } from './ui/resources.js';
import { VERSION } from './version.js';

export const SERVER_NAME = 'loop-ops-mcp';

export { VERSION };

export { DEFAULT_DRAIN_TIMEOUT_MS };
export { serverInstructions } from './runtime.js';

/** A refusal to start (bad combination of options); the CLI prints it and exits 1. */
export class StartupError extends Error {
  override name = 'StartupError';
}

// ---------------------------------------------------------------------------
// The runtime every session shares (src/runtime.ts)

/** What every session of a server shares: the runtime. */
export type ServerCore = Runtime;

/** A runtime on `deps` (tests; the CLI builds one with createRuntime). */
export function createCore<S>(deps: Deps<S>, opts: Pick<RuntimeOptions, 'metrics'> = {}): ServerCore {
  return runtimeOf(deps, opts);
}

export interface McpServerOptions {
  /**
   * The caller's granted scopes when the session starts (HTTP: from its
   * credentials at initialize): only the tools they allow are registered, so
   * tools/list shows no tool the caller may not call. Absent: every tool
   * (stdio: the local user who started the process). The guard still checks
   * every call.
   */
  scopes?: readonly string[];
}

/** A fresh McpServer with every exposed tool registered behind the guard. */
export function createMcpServer(core: ServerCore, transport: TransportKind, opts: McpServerOptions = {}): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, title: 'Loop Ops (loop-api on the NAS)', version: VERSION },
    {
      instructions: core.instructions,
      // Declared up front so tools/list answers even with no tool exposed; the list never changes within a session.
      capabilities: { tools: { listChanged: false } },
    },
  );
  const callerOf = (extra: Extra): Caller => {
    const auth = extra.authInfo;
    const cv = server.server.getClientVersion();
    return {
      id: auth?.clientId ?? (transport === 'stdio' ? 'stdio' : 'unknown'),
      transport,
      ...(extra.sessionId ? { sessionId: extra.sessionId } : {}),
      ...(cv ? { client: `${cv.name}/${cv.version}` } : {}),
      // stdio: the local user who started the process; HTTP: what auth granted (none → nothing allowed).
      scopes: auth?.scopes ?? (transport === 'stdio' ? [...ALL_SCOPES] : []),
    };
  };
  core.inventory.registerOn(server, core.guard, callerOf, opts.scopes ? { scopes: opts.scopes } : {});
  const { resources = [], prompts = [], services, config } = core.deps;
  registerResourcesAndPrompts(server, { resources, prompts, services, app: config.targets[0]!.apps[0]!.name }, core.guard, callerOf);
  registerUiResources(server, core.inventory.definitions);
  server.server.onerror = (e) => core.deps.log.debug({ err: core.deps.scrubber.scrub(e.message), transport }, 'MCP protocol error');
  return server;
}

function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => (p ??= f());
}

// ---------------------------------------------------------------------------
// stdio

export interface StdioOptions {
  stdin?: Readable;
  stdout?: Writable;
  drainTimeoutMs?: number;
}

export interface RunningStdio {
  server: McpServer;
  core: ServerCore;
  /** Drain calls, close the server, then the runtime (audit, services). Idempotent. */
  shutdown(reason?: string): Promise<void>;
  /** Resolves once shut down (stdin ended, or `shutdown` called). */
  closed: Promise<void>;
}

export async function runStdio<S>(given: Deps<S> | Runtime, opts: StdioOptions = {}): Promise<RunningStdio> {
  const core = asRuntime(given);
  const deps = core.deps;
  const server = createMcpServer(core, 'stdio');
  const stdin = opts.stdin ?? process.stdin;
  const transport = new StdioServerTransport(stdin, opts.stdout ?? process.stdout);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let why = 'shutdown';
  const shutdown = once(async () => {
    deps.log.info({ why }, 'stdio server shutting down');
    await core.drainCalls(opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    await server.close().catch(() => {});
    await core.close();
    resolveClosed();
  });
  // The client (Claude Desktop, …) ends the session by closing our stdin.
  stdin.once('end', () => {
    why = 'stdin closed';
    void shutdown();
  });
  await server.connect(transport);
  deps.log.info({ tools: core.inventory.names, readOnly: deps.config.server.readOnly }, 'stdio server ready');
  return {
    server,
    core,
    shutdown: (reason?: string) => {
      if (reason) why = reason;
      return shutdown();
    },
    closed,
  };
}

// ---------------------------------------------------------------------------
// HTTP

export interface HttpAppOptions {
  /** Explicit --no-auth: allowed only without a token and on a loopback host. */
  noAuth?: boolean;
  drainTimeoutMs?: number;
  /** Overrides server.maxSessions (tests). */
  maxSessions?: number;
  /** OAuth runtime knobs (clock, throttle, SDK rate limits): tests only. */
  oauth?: OAuthRuntimeOptions;
}

export interface HttpApp {
  app: Express;
  core: ServerCore;
  sessions: SessionRegistry;
  /** The OAuth authorization server, when `auth.oauth.enabled`. */
  oauth?: OAuthSetup;
  /** Refuse new work, drain calls, close sessions, flush the audit. Does not close services. Idempotent. */
  shutdown(): Promise<void>;
}

function jsonRpcError(res: Response, status: number, code: number, message: string): void {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/** Checks the auth setup; returns the token to enforce (undefined = no auth). */
function resolveAuth(deps: Deps<unknown>, opts: HttpAppOptions): string | undefined {
  const token = deps.secrets.apiToken;
  const host = deps.config.server.host;
  if (deps.config.auth.oauth.enabled) {
    if (opts.noAuth) deps.log.warn('--no-auth ignored: OAuth is on, so authentication stays on');
    if (token && token.length < 16) deps.log.warn('the API token is shorter than 16 characters: use a long random one (openssl rand -hex 32)');
    return token;
  }
  if (token) {
    if (opts.noAuth) deps.log.warn('--no-auth ignored: an API token is configured, so bearer auth stays on');
    if (token.length < 16) deps.log.warn('the API token is shorter than 16 characters: use a long random one (openssl rand -hex 32)');
    return token;
  }
  if (!opts.noAuth) {
    throw new StartupError(
      'no API token configured: set LOOP_OPS_TOKEN, LOOP_OPS_TOKEN_FILE or server.tokenFile ' +
        '(or, bound to a loopback address only, pass --no-auth explicitly)',
    );
  }
  if (!isLoopbackHost(host)) {
    throw new StartupError(`--no-auth is only allowed on a loopback address, not on ${host}`);
  }
  deps.log.warn(
    { host },
    '!!! AUTHENTICATION DISABLED (--no-auth): anyone who can reach this loopback port can operate the NAS !!!',
  );
  return undefined;
}

export function createHttpApp<S>(given: Deps<S> | Runtime, opts: HttpAppOptions = {}): HttpApp {
  const deps = 'guard' in given ? given.deps : (given as Deps<unknown>);
  const d = deps;
  const cfg = deps.config.server;
  const log = deps.log;
  const token = resolveAuth(d, opts);
  let oauth: OAuthSetup | undefined;
  if (deps.config.auth.oauth.enabled) {
    const passphrase = deps.secrets.adminPassphrase;
    if (!passphrase) throw new StartupError('auth.oauth.enabled needs LOOP_OPS_ADMIN_PASSPHRASE or LOOP_OPS_ADMIN_PASSPHRASE_FILE');
    try {
      oauth = setupOAuth(deps.config.auth.oauth, passphrase, log.child({ component: 'oauth' }), opts.oauth);
    } catch (e) {
      if (e instanceof StateFileError) throw new StartupError(e.message);
      const code = (e as NodeJS.ErrnoException).code;
      if (code) throw new StartupError(`cannot write the OAuth state file ${deps.config.auth.oauth.stateFile}: ${code}`);
      throw e;
    }
  }
  const core = asRuntime(given, { metrics: deps.config.metrics.enabled });
  const calls = core.guard.calls;
  const sessions = new SessionRegistry({
    idleTimeoutMs: cfg.sessionIdleTimeoutMs,
    maxSessions: opts.maxSessions ?? cfg.maxSessions,
    maxPerPrincipal: cfg.maxSessionsPerPrincipal,
    log: log.child({ component: 'sessions' }),
    busy: (id) => calls.countForSession(id) > 0,
  });
  sessions.startSweeper();

  if (!isLoopbackHost(cfg.host) && cfg.allowedHosts.every((h) => isLoopbackHost(normalizeAllowedHost(h)))) {
    log.warn({ host: cfg.host }, 'bound beyond loopback but server.allowedHosts lists only loopback names: remote clients will get 403');
  }

  const trustProxy = deps.config.auth.trustProxy;
  if (oauth && oauth.resource.startsWith('https:') && (trustProxy === false || trustProxy === 0)) {
    // An https public URL in front of this plain-HTTP listener means a TLS-terminating reverse proxy.
    log.warn(
      'auth.oauth.publicBaseUrl is https, so a reverse proxy is in front, but auth.trustProxy is not set: every unauthenticated ' +
        'client shares the proxy\'s address (pre-auth rate limit, passphrase throttle). Set auth.trustProxy to 1 or to the proxy\'s address',
    );
  }

  let closing = false;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Deliberate: only the client IP (pre-auth rate limit, passphrase throttle) depends on it; URLs come from publicBaseUrl.
  // `true` never gets here (the config refuses it): it would let each client pick its own address.
  app.set('trust proxy', trustProxy);
  const limits = createRateLimits({
    preAuthPerMinute: cfg.preAuthRateLimitPerMinute,
    perPrincipalPerMinute: cfg.rateLimitPerMinute,
    authRequired: token !== undefined || oauth !== undefined,
  });

  app.use((_req, res, next) => {
    if (!closing) return next();
    res.set('Connection', 'close').set('Retry-After', '5');
    jsonRpcError(res, 503, -32000, 'Server is shutting down');
  });
  // Before any limit: cached and cheap, and a flood must not make the monitor see 429.
  app.get('/healthz', healthHandler({ probe: () => deps.probeNas(), log }));
  app.use(limits.preAuth);
  app.use(hostCheck(oauth ? [...cfg.allowedHosts, oauth.publicHost] : cfg.allowedHosts));
  if (oauth) app.use(oauth.router);
  // Without OAuth, a 404 here tells Claude/ChatGPT not to attempt OAuth discovery / dynamic registration.
  app.use('/.well-known', (_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });

  const authenticate = bearerAuth({
    token,
    ...(oauth ? { oauth: { verifier: oauth.provider, resourceMetadataUrl: oauth.resourceMetadataUrl, resource: oauth.resource } } : {}),
    onFailure: limits.onAuthFailure,
  });
  // Auth, then the caller's own rate limit: an authenticated request never counts against its address.
  const auth: RequestHandler = (req, res, next) => {
    void authenticate(req, res, (err?: unknown) => (err ? next(err) : limits.perPrincipal(req, res, next)));
  };
  const json = express.json({ limit: cfg.maxBodyBytes });
  const principalOf = (req: Request) => (req as AuthedRequest).auth?.clientId ?? 'unknown';
  // What the session's credentials grant when it starts: its tools/list shows only those tools.
  const scopesOf = (req: Request): string[] => (req as AuthedRequest).auth?.scopes ?? [];

  /** A slot for a new session, or the refusal sent (503 server full, 429 this principal's cap). */
  const reserveSession = (res: Response, principal: string) => {
    const r = sessions.reserve(principal);
    if ('release' in r) return r;
    res.set('Retry-After', '60');
    if (r.refused === 'server') {
      jsonRpcError(res, 503, -32000, 'Too many open sessions; retry later');
    } else {
      log.warn({ principal, limit: r.limit }, 'session refused: this client has too many open sessions');
      jsonRpcError(
        res,
        429,
        -32000,
        `Too many open sessions for this client (limit ${r.limit}): close unused ones (DELETE /mcp, or end the SSE stream) or wait until idle ones expire`,
      );
    }
    return undefined;
  };

  // --- Streamable HTTP --------------------------------------------------
  const sessionHeader = (req: Request): string | undefined => {
    const v = req.headers['mcp-session-id'];
    return typeof v === 'string' && v ? v : undefined;
  };

  app.post('/mcp', auth, json, async (req, res) => {
    const sid = sessionHeader(req);
    if (sid) {
      const s = sessions.use(sid, principalOf(req));
      if (!s || s.kind !== 'streamable-http') return jsonRpcError(res, 404, -32001, 'Session not found');
      await (s.transport as StreamableHTTPServerTransport).handleRequest(req, res, req.body);
      return;
    }
    if (!isInitializeRequest(req.body)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: no valid session ID (send initialize first)');
    }
    const principal = principalOf(req);
    const slot = reserveSession(res, principal);
    if (!slot) return;
    const server = createMcpServer(core, 'streamable-http', { scopes: scopesOf(req) });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      maxRequestBodySize: cfg.maxBodyBytes,
      onsessioninitialized: (id) => {
        sessions.add({ id, kind: 'streamable-http', principal, server, transport });
        slot.release();
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.forget(transport.sessionId);
    };
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } finally {
      slot.release();
    }
    if (!transport.sessionId || !sessions.has(transport.sessionId)) {
      // initialize was refused: nothing will ever use this pair.
      await server.close().catch(() => {});
    }
  });

  const existingSession = async (req: Request, res: Response) => {
    const sid = sessionHeader(req);
    const s = sid ? sessions.use(sid, principalOf(req)) : undefined;
    if (!sid) return jsonRpcError(res, 400, -32000, 'Bad Request: missing Mcp-Session-Id header');
    if (!s || s.kind !== 'streamable-http') return jsonRpcError(res, 404, -32001, 'Session not found');
    await (s.transport as StreamableHTTPServerTransport).handleRequest(req, res);
  };
  app.get('/mcp', auth, existingSession);
  app.delete('/mcp', auth, existingSession);
  app.all('/mcp', (_req, res) => {
    res.set('Allow', 'GET, POST, DELETE');
    jsonRpcError(res, 405, -32000, 'Method not allowed');
  });

  // --- legacy SSE ---------------------------------------------------------
  app.get('/sse', auth, async (req, res) => {
    const principal = principalOf(req);
    const slot = reserveSession(res, principal);
    if (!slot) return;
    const transport = new SSEServerTransport('/messages', res);
    const server = createMcpServer(core, 'sse', { scopes: scopesOf(req) });
    const id = transport.sessionId;
    sessions.add({ id, kind: 'sse', principal, server, transport });
    slot.release();
    transport.onclose = () => sessions.forget(id);
    await server.connect(transport);
  });

  app.post('/messages', auth, json, async (req, res) => {
    const sid = typeof req.query.sessionId === 'string' ? req.query.sessionId : undefined;
    if (!sid) return jsonRpcError(res, 400, -32000, 'Bad Request: missing sessionId');
    const s = sessions.use(sid, principalOf(req));
    if (!s || s.kind !== 'sse') return jsonRpcError(res, 404, -32001, 'Session not found');
    await (s.transport as SSEServerTransport).handlePostMessage(req, res, req.body);
  });

  // Behind the same auth as the MCP routes (and their rate limit); read scope.
  if (core.metrics) app.get('/metrics', auth, metricsHandler(core.metrics, log));

  app.use((_req, res) => {
    res.status(404).json({ error: 'not_found' });
  });

  const onError: ErrorRequestHandler = (err, _req, res, next) => {
    if (res.headersSent) return next(err);
    const e = err as { type?: string; status?: number; statusCode?: number; message?: string };
    if (e.type === 'entity.too.large') {
      return jsonRpcError(res, 413, -32600, `Request body too large (limit ${cfg.maxBodyBytes} bytes)`);
    }
    if (e.type === 'entity.parse.failed') return jsonRpcError(res, 400, -32700, 'Parse error: invalid JSON');
    const status = e.status ?? e.statusCode ?? 500;
    if (status >= 400 && status < 500) return jsonRpcError(res, status, -32600, 'Bad request');
    log.error({ err: deps.scrubber.scrub(String(e.message ?? err)) }, 'HTTP handler failed');
    return jsonRpcError(res, 500, -32603, 'Internal server error');
  };
  app.use(onError);

  const shutdown = once(async () => {
    closing = true;
    await core.drainCalls(opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS);
    await sessions.closeAll('server shutting down');
    await core.guard.audit.flush();
    core.metrics?.close();
  });

  log.info(
    {
      tools: core.inventory.names,
      readOnly: cfg.readOnly,
      auth: [token ? `bearer (token ${tokenFingerprint(token)})` : '', oauth ? `oauth (issuer ${oauth.resourceMetadataUrl.replace(/\/\.well-known.*$/, '')})` : '']
        .filter(Boolean)
        .join(' + ') || 'none',
      allowedHosts: cfg.allowedHosts,
    },
    'HTTP app ready',
  );
  return { app, core, sessions, ...(oauth ? { oauth } : {}), shutdown };
}

export interface RunningHttp {
  httpServer: HttpServer;
  /** e.g. http://127.0.0.1:8765 */
  url: string;
  http: HttpApp;
  /** Stop listening, drain and close everything, then the runtime (services). Idempotent. */
  shutdown(): Promise<void>;
}

/** Creates the app and listens on `config.server.host:port` (port 0 = ephemeral). */
export async function startHttp<S>(given: Deps<S> | Runtime, opts: HttpAppOptions = {}): Promise<RunningHttp> {
  const httpApp = createHttpApp(given, opts);
  const deps = httpApp.core.deps;
  const { host, port } = deps.config.server;
  const cfg = deps.config.server;
  const httpServer = await new Promise<HttpServer>((resolve, reject) => {
    const s = createServer(
      {
        // Slow clients (slowloris): headers, then the whole request, each within a bound, else 408 and
        // the connection closes. A response being streamed (SSE, a long tool call) is not cut: these
        // bound receiving the request only.
        headersTimeout: cfg.headersTimeoutMs,
        requestTimeout: cfg.requestTimeoutMs,
        // How often Node checks those timeouts (its default, 30 s, would let them overrun by that much).
        connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(cfg.headersTimeoutMs / 4))),
      },
      httpApp.app,
    );
    // Connections beyond this are closed on accept; with the timeouts above, slow ones cannot hold slots for long.
    s.maxConnections = cfg.maxConnections;
    s.listen(port, host);
    s.once('listening', () => resolve(s));
    s.once('error', (e) => {
      void httpApp.shutdown();
      reject(new StartupError(`cannot listen on ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    });
  });
  const addr = httpServer.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}`;
  deps.log.info({ url }, `listening on ${url} (Streamable HTTP at /mcp, SSE at /sse)`);

  const shutdown = once(async () => {
    deps.log.info('shutting down');
    const closedListening = new Promise<void>((r) => httpServer.close(() => r()));
    httpServer.closeIdleConnections();
    await httpApp.shutdown();
    httpServer.closeAllConnections();
    await closedListening;
    await httpApp.core.close();
    deps.log.info('shut down');
  });
  return { httpServer, url, http: httpApp, shutdown };
}

/**
 * SIGTERM/SIGINT → `shutdown()` then exit 0 (1 if shutdown failed). A second
 * signal exits at once.
 */
export function exitOnSignals(shutdown: () => Promise<void>, log: Logger): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'signal received: graceful shutdown');
    shutdown().then(
      () => {
        log.flush?.();
        process.exit(0);
      },
      (e) => {
        log.error({ err: (e as Error).message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

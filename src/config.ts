/**
 * Configuration: one zod schema, loaded from a YAML or JSON file (`--config`)
 * with environment overrides (12-factor, for the container image).
 *
 * Secrets (sudo password, SSH key passphrase, API token) are never accepted
 * inline in the file or on the command line: only from an environment
 * variable or a file whose path is configured. The resolved values live in
 * `Secrets`, apart from the plain config, so the config can be logged/printed
 * without ever carrying a secret.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { isTargetsFormat, parseTargets, singleNasRoot, type RootConfig } from './config/targets.js';

/** Names that may be used for containers, networks and apps on the NAS. */
export const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const name = z.string().regex(NAME_RE, 'must be a Docker-style name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)');
const absPath = z
  .string()
  .min(1)
  .refine((p) => p.startsWith('/'), 'must be an absolute path')
  .refine((p) => !p.includes('\0') && !p.includes('\n'), 'must not contain NUL or newline');
const port = z.number().int().min(1).max(65535);
const fingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must look like "SHA256:" + 43 base64 characters, as printed by ssh-keygen -lf');
const argv = z.array(z.string().min(1)).min(1);

/** Field schemas the targets/apps format (src/config/targets.ts) reuses. */
export const fieldSchemas = { name, absPath, port, argv } as const;

export const nasSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(22),
    username: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, 'must be a plain user name'),
    /** Private key file (OpenSSH format). Passphrase from LOOP_OPS_SSH_PASSPHRASE(_FILE). */
    privateKeyPath: z.string().min(1).optional(),
    /** Use the SSH agent at $SSH_AUTH_SOCK instead of / besides a key file. */
    useAgent: z.boolean().default(false),
    /** Pinned host key, `SHA256:…` as `ssh-keygen -lf` prints it. */
    hostKeyFingerprint: fingerprint.optional(),
    /** Or an OpenSSH known_hosts file holding the NAS's key. */
    knownHostsPath: z.string().min(1).optional(),
    /**
     * First-setup only: accept any host key and log its fingerprint loudly.
     * Never leave this on.
     */
    insecureAcceptAnyHostKey: z.boolean().default(false),
    connectTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
    keepaliveIntervalMs: z.number().int().min(500).max(300_000).default(5_000),
    keepaliveCountMax: z.number().int().min(1).max(100).default(3),
    /** OpenSSH's MaxSessions is 10; stay below it. */
    maxChannelsPerConnection: z.number().int().min(1).max(10).default(8),
    /** Connections opened when one is full of channels. */
    maxConnections: z.number().int().min(1).max(8).default(2),
    /** Close a connection nobody used for this long. */
    idleTimeoutMs: z.number().int().min(1_000).default(300_000),
    /** How long a caller may wait for a free channel before failing. */
    channelWaitTimeoutMs: z.number().int().min(100).default(30_000),
  })
  .strict();

export const sudoSchema = z
  .object({
    /** none: run as the SSH user; nopasswd: `sudo -n`; password: `sudo -S` fed on stdin. */
    mode: z.enum(['none', 'nopasswd', 'password']).default('password'),
    /** File holding the sudo password (else LOOP_OPS_SUDO_PASSWORD(_FILE)). */
    passwordFile: z.string().min(1).optional(),
    /**
     * Absolute paths of the plain programs run as root (sudoers matches them;
     * `loop-ops-mcp sudoers` prints the rules). Defaults fit Synology DSM 7 and Debian.
     */
    programs: z
      .object({
        timeout: absPath.default('/usr/bin/timeout'),
        mkdir: absPath.default('/bin/mkdir'),
        mv: absPath.default('/bin/mv'),
        rm: absPath.default('/bin/rm'),
        cat: absPath.default('/bin/cat'),
        tee: absPath.default('/usr/bin/tee'),
        chmod: absPath.default('/bin/chmod'),
        test: absPath.default('/usr/bin/test'),
        ls: absPath.default('/bin/ls'),
        cp: absPath.default('/bin/cp'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const appSchema = z
  .object({
    name: name.default('loop-api'),
    /** Git checkout of the app on the NAS (Dockerfile at its root). */
    checkoutDir: absPath.default('/volume1/docker/loop-api/src'),
    frontPort: port.default(8082),
    containerPort: port.default(8081),
    healthPath: z.string().regex(/^\/[\x21-\x7e]*$/, 'must be a URL path starting with /').default('/health'),
    network: name.default('loop_default'),
    /** Host directory mounted into the app containers (OAuth keys, DB). */
    vaultPath: absPath.default('/volume1/docker/loop-api/vault'),
    vaultMount: absPath.default('/vault'),
    oauthKeysDir: absPath.default('/volume1/docker/loop-api/vault/oauth-keys'),
    dbPath: absPath.default('/volume1/docker/loop-api/vault/loop.db'),
    /** Sibling containers shown by `status` (not deployed by us). */
    watch: z.array(name).max(20).default(['loop-auth']),
    /** Host ports each color publishes on 127.0.0.1 for nginx to reach. */
    colorPorts: z
      .object({ blue: port.default(18081), green: port.default(18082) })
      .strict()
      .refine((p) => p.blue !== p.green, 'blue and green need different ports')
      .default({ blue: 18081, green: 18082 }),
    /** The URL users hit (through the reverse proxy); optional. */
    publicHealthUrl: z.url().optional(),
  })
  .strict();

export const dockerSchema = z
  .object({
    /** Absolute, because sudo's secure_path lacks /usr/local/bin on Synology. */
    binary: absPath.default('/var/packages/ContainerManager/target/usr/bin/docker'),
  })
  .strict();

export const nginxSchema = z
  .object({
    upstreamFile: absPath.default('/volume1/docker/nginx/conf.d/loop-api-upstream.conf'),
    testCommand: argv.default(['/usr/bin/nginx', '-t']),
    reloadCommand: argv.default(['/usr/bin/nginx', '-s', 'reload']),
    /** Run test/reload through sudo (host nginx owned by root). */
    useSudo: z.boolean().default(true),
  })
  .strict();

/** Longest timed retention of the previous color: a week. */
export const KEEP_PREVIOUS_MAX_MINUTES = 7 * 24 * 60;

// "30" from YAML or 30 from an env override (parsed as JSON) mean the same.
const keepPreviousSchema = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.union([
    z.enum(['running', 'stopped']),
    z
      .string()
      .regex(/^[1-9][0-9]{0,4}$/, 'must be "running", "stopped" or a number of minutes')
      .refine((m) => Number(m) <= KEEP_PREVIOUS_MAX_MINUTES, `at most ${KEEP_PREVIOUS_MAX_MINUTES} minutes`),
  ]),
);

/** deploy.keepPrevious as a decision. */
export type KeepPrevious = { mode: 'running' } | { mode: 'stopped' } | { mode: 'timed'; minutes: number };

export function keepPreviousPolicy(v: string): KeepPrevious {
  if (v === 'running' || v === 'stopped') return { mode: v };
  const minutes = Number(v);
  if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`invalid deploy.keepPrevious: ${JSON.stringify(v)}`);
  return { mode: 'timed', minutes };
}

export const deploySchema = z
  .object({
    /** Health gate of a new color: attempts × interval, consecutive successes needed. */
    healthAttempts: z.number().int().min(1).max(1000).default(30),
    healthIntervalMs: z.number().int().min(100).max(600_000).default(10_000),
    healthSuccessThreshold: z.number().int().min(1).max(100).default(1),
    healthTimeoutMs: z.number().int().min(200).max(60_000).default(5_000),
    /** After the switch, probe the front this long; any failure switches back. */
    verifySeconds: z.number().int().min(0).max(3_600).default(30),
    verifyIntervalMs: z.number().int().min(100).max(60_000).default(1_000),
    /**
     * The previous color after a good deploy: kept running (instant rollback),
     * stopped, or "<minutes>": kept running that long, then stopped.
     */
    keepPrevious: keepPreviousSchema.default('running'),
    /** Images kept besides the live and previous ones (and any a container uses); older ones are pruned after a deploy. */
    retainImages: z.number().int().min(0).max(100).default(5),
    buildTimeoutMs: z.number().int().min(10_000).max(4 * 3_600_000).default(30 * 60_000),
    /**
     * Rollback's verification window through the front after the switch. 0 is
     * one probe; the default 1 s keeps probing while a slow nginx finishes its
     * reload (on a busy machine old workers can still answer for a few hundred
     * ms, and a probe checks health, not which color answered).
     */
    rollbackVerifySeconds: z.number().int().min(0).max(600).default(1),
    /** The running operation refreshes the heartbeat in its lock and journal this often. */
    heartbeatIntervalMs: z.number().int().min(200).max(60_000).default(5_000),
    /** A lock whose heartbeat is older than this is stale: recover and release_lock may take it. */
    heartbeatStaleMs: z.number().int().min(1_000).max(3_600_000).default(15_000),
    /** How long a write tool waits for its job before returning the job id. */
    toolWaitSeconds: z.number().int().min(0).max(3_600).default(45),
  })
  .strict()
  .refine((d) => d.heartbeatStaleMs >= 2 * d.heartbeatIntervalMs, {
    message: 'deploy.heartbeatStaleMs must be at least twice deploy.heartbeatIntervalMs (one late beat must not make a live lock look stale)',
    path: ['heartbeatStaleMs'],
  });

export const stateSchema = z
  .object({
    /** Directory on the NAS for the deploy lock, journal and history. */
    dir: absPath.default('/volume1/docker/loop-ops'),
  })
  .strict();

export const serverSchema = z
  .object({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8765),
    /** Host header values accepted (DNS-rebinding protection). */
    allowedHosts: z.array(z.string().min(1)).default(['127.0.0.1', 'localhost']),
    /** Hide every write tool. */
    readOnly: z.boolean().default(false),
    /** File with the bearer token (else LOOP_OPS_TOKEN(_FILE)). */
    tokenFile: z.string().min(1).optional(),
    sessionIdleTimeoutMs: z.number().int().min(10_000).default(30 * 60_000),
    maxBodyBytes: z.number().int().min(1_024).max(10 * 1024 * 1024).default(1024 * 1024),
    /** Requests per minute per authenticated principal (token or OAuth client), counted after auth. */
    rateLimitPerMinute: z.number().int().min(1).default(600),
    /**
     * Requests per minute per client address that carry no valid credentials
     * (failed or missing auth, OAuth endpoints, unknown routes). Kept small:
     * an authenticated request never counts here, so a flood cannot lock out
     * an authorized client. /healthz counts nowhere (it is served from a cache).
     */
    preAuthRateLimitPerMinute: z.number().int().min(1).default(60),
    /** Time to receive a request's headers; slower clients get 408 and the connection closes. */
    headersTimeoutMs: z.number().int().min(1_000).max(300_000).default(20_000),
    /** Time to receive a whole request (headers and body); streams being answered (SSE) are not cut. */
    requestTimeoutMs: z.number().int().min(1_000).max(600_000).default(60_000),
    /** Open TCP connections at once; further ones are closed on accept. */
    maxConnections: z.number().int().min(1).max(100_000).default(256),
    /** Open MCP sessions (Streamable HTTP + SSE) at once, all principals together. */
    maxSessions: z.number().int().min(1).max(10_000).default(100),
    /** Open MCP sessions per principal; one client cannot take every slot. */
    maxSessionsPerPrincipal: z.number().int().min(1).max(10_000).default(20),
    /**
     * How long a status read may be served again (ms) while the NAS's Docker
     * events are watched; every write and every container/image event drops
     * it sooner. 0: every status reads the NAS.
     */
    statusSnapshotMs: z.number().int().min(0).max(60_000).default(2_000),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.headersTimeoutMs > s.requestTimeoutMs) {
      ctx.addIssue({ code: 'custom', path: ['headersTimeoutMs'], message: 'must not exceed server.requestTimeoutMs' });
    }
    if (s.maxSessionsPerPrincipal > s.maxSessions) {
      ctx.addIssue({ code: 'custom', path: ['maxSessionsPerPrincipal'], message: 'must not exceed server.maxSessions' });
    }
  });

export const logSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** JSON lines of every tool call. */
    auditFile: z.string().min(1).optional(),
  })
  .strict();

/** Loopback hosts for which plain http is accepted in auth.oauth.publicBaseUrl (local demo, tests). */
const LOOPBACK_URL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A DNS name of labels (letters, digits, inner hyphens) with at least one dot. */
const OAUTH_HOST_RE = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const oauthSchema = z
  .object({
    /** Built-in OAuth 2.1 authorization server (ChatGPT / Claude connectors). */
    enabled: z.boolean().default(false),
    /**
     * The https origin the server is reached at (behind the reverse proxy), e.g.
     * `https://ops.example.com`. It is the issuer; `<publicBaseUrl>/mcp` is the
     * protected resource. Never derived from request headers.
     */
    publicBaseUrl: z
      .url()
      .refine((u) => {
        const x = new URL(u);
        return x.protocol === 'https:' || (x.protocol === 'http:' && LOOPBACK_URL_HOSTS.has(x.hostname));
      }, 'must be https (plain http only for localhost / 127.0.0.1)')
      .refine((u) => {
        const x = new URL(u);
        return (x.pathname === '/' || x.pathname === '') && !x.search && !x.hash && !x.username && !x.password;
      }, 'must be an origin only (scheme://host[:port]), without path, query or fragment')
      .optional(),
    /** JSON file where clients, grants and refresh tokens persist (hashes only), mode 0600. */
    stateFile: z.string().min(1).optional(),
    accessTokenTtlSeconds: z.number().int().min(60).max(86_400).default(3_600),
    refreshTokenTtlDays: z.number().int().min(1).max(365).default(30),
    /**
     * Hosts (exact names, https only) whose redirect URIs and Client ID
     * Metadata Document URLs are accepted, besides the built-in chatgpt.com,
     * claude.ai, claude.com and loopback. No wildcards: each name is matched whole.
     */
    allowedRedirectHosts: z
      .array(
        z
          .string()
          .max(253)
          .transform((h) => h.toLowerCase())
          .refine((h) => OAUTH_HOST_RE.test(h), 'must be a bare host name such as app.example.com (no scheme, port, path or wildcard)'),
      )
      .max(20)
      .default([]),
  })
  .strict();

/** Names Express (proxy-addr) knows for address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** `10.0.0.1`, `::1`, `10.0.0.0/8`, `fd00::/8`, `loopback`… (one entry of auth.trustProxy). */
export function isProxyAddress(entry: string): boolean {
  const e = entry.trim();
  if (PROXY_RANGE_NAMES.has(e)) return true;
  const [addr, prefix, ...rest] = e.split('/');
  if (rest.length || !addr) return false;
  const family = isIP(addr);
  if (!family) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const proxyAddress = z
  .string()
  .refine(
    (s) => s.split(',').every(isProxyAddress),
    'must be proxy addresses or subnets (e.g. "127.0.0.1", "10.0.0.0/8", "loopback"), comma-separated',
  );

export const TRUST_PROXY_TRUE =
  'true would trust every X-Forwarded-For entry, so each client could choose its own address and bypass ' +
  'the rate limits and the passphrase throttle; set the number of reverse proxies in front (e.g. 1) ' +
  'or their addresses (e.g. "127.0.0.1" or ["10.0.0.0/8"])';

export const authSchema = z
  .object({
    oauth: oauthSchema.default(() => oauthSchema.parse({})),
    /**
     * Express `trust proxy`: false (default: the socket address is the client),
     * the number of reverse-proxy hops in front, or the proxies' addresses /
     * subnets. Affects only the client IP used for the pre-auth rate limit and
     * the passphrase throttle; URLs come from publicBaseUrl. `true` is refused:
     * it would let every client choose its own address.
     */
    trustProxy: z
      .union([z.boolean(), z.number().int().min(0).max(10), proxyAddress, z.array(proxyAddress).min(1).max(64)])
      .refine((v) => v !== true, TRUST_PROXY_TRUE)
      .default(false),
  })
  .strict();

/** Payload shapes a webhook can take (src/notify/payloads.ts). */
export const WEBHOOK_FORMATS = ['json', 'slack', 'discord', 'ntfy'] as const;

const webhookSchema = z
  .object({
    /**
     * The receiver's URL. Its path and query usually hold a token (Slack,
     * Discord, an ntfy topic): it is moved to `Secrets` at load time and
     * scrubbed from every log line. Prefer `urlFile` or the environment.
     */
    url: z
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL')
      .optional(),
    /** A file holding the URL (one line), instead of `url`. */
    urlFile: z.string().min(1).optional(),
    format: z.enum(WEBHOOK_FORMATS).default('json'),
  })
  .strict()
  .refine((w) => (w.url === undefined) !== (w.urlFile === undefined), 'give exactly one of url and urlFile');

export const notifySchema = z
  .object({
    /** Told when a write operation ends (succeeded, failed, rolled back, recovered). */
    webhooks: z.array(webhookSchema).max(10).default([]),
    /** Per attempt. */
    timeoutMs: z.number().int().min(500).max(60_000).default(5_000),
    /** Attempts after the first, on network errors, 429 and 5xx. */
    retries: z.number().int().min(0).max(10).default(3),
    /** First backoff; doubles each retry (with jitter), capped at 60 s. */
    backoffMs: z.number().int().min(10).max(60_000).default(1_000),
    /** Deliveries waiting at most; beyond it the oldest is dropped (and logged). */
    queueMax: z.number().int().min(1).max(10_000).default(100),
  })
  .strict();

export const metricsSchema = z
  .object({
    /** Prometheus text at GET /metrics, behind the same auth as /mcp (scope ops:read). */
    enabled: z.boolean().default(true),
    /** Node process metrics (CPU, memory, event loop, GC) besides ours. */
    processMetrics: z.boolean().default(true),
  })
  .strict();

/** A recreate app: one container named after the app, rebuilt from its checkout and replaced behind a health gate (no nginx in front). */
export const recreateAppSchema = z
  .object({
    name,
    /** Git checkout of the app on the NAS (Dockerfile at its root). */
    checkoutDir: absPath,
    containerPort: port,
    /** Published on 127.0.0.1:<hostPort>; the health gate probes it from the NAS. Without it, the container's own HEALTHCHECK gates. */
    hostPort: port.optional(),
    healthPath: z.string().regex(/^\/[\x21-\x7e]*$/, 'must be a URL path starting with /').default('/health'),
    network: name.default('loop_default'),
    /** Host directories mounted into the container. */
    volumes: z
      .array(z.object({ host: absPath, container: absPath, readOnly: z.boolean().default(false) }).strict())
      .max(20)
      .default([]),
  })
  .strict();

/** Every section of a per-app configuration but `app`: one target's host parts plus the global sections. */
const scopeShape = {
  nas: nasSchema,
  sudo: sudoSchema.default(() => sudoSchema.parse({})),
  docker: dockerSchema.default({ binary: '/var/packages/ContainerManager/target/usr/bin/docker' }),
  nginx: nginxSchema.default(() => nginxSchema.parse({})),
  state: stateSchema.default(() => stateSchema.parse({})),
  deploy: deploySchema.default(() => deploySchema.parse({})),
  server: serverSchema.default(() => serverSchema.parse({})),
  log: logSchema.default({ level: 'info' }),
  auth: authSchema.default(() => authSchema.parse({})),
  notify: notifySchema.default(() => notifySchema.parse({})),
  metrics: metricsSchema.default(() => metricsSchema.parse({})),
};

type ScopeParts = z.output<z.ZodObject<typeof scopeShape>>;

/** Checks every per-app configuration needs, whatever the app's strategy. */
function checkScope(c: ScopeParts, ctx: z.RefinementCtx): void {
  if (c.nginx.useSudo && c.sudo.mode !== 'none') {
    for (const key of ['testCommand', 'reloadCommand'] as const) {
      if (!c.nginx[key][0]!.startsWith('/')) {
        ctx.addIssue({ code: 'custom', path: ['nginx', key, 0], message: 'must be an absolute path when nginx.useSudo is true (sudoers matches it)' });
      }
    }
  }
  const o = c.auth.oauth;
  if (o.enabled && !o.publicBaseUrl) {
    ctx.addIssue({ code: 'custom', path: ['auth', 'oauth', 'publicBaseUrl'], message: 'required when auth.oauth.enabled is true' });
  }
  if (o.enabled && !o.stateFile) {
    ctx.addIssue({ code: 'custom', path: ['auth', 'oauth', 'stateFile'], message: 'required when auth.oauth.enabled is true' });
  }
  const n = c.nas;
  if (!n.hostKeyFingerprint && !n.knownHostsPath && !n.insecureAcceptAnyHostKey) {
    ctx.addIssue({
      code: 'custom',
      path: ['nas', 'hostKeyFingerprint'],
      message: 'a host key must be pinned: set nas.hostKeyFingerprint (ssh-keygen -lf) or nas.knownHostsPath',
    });
  }
}

/**
 * One blue-green app on one NAS: the single-NAS file as it has always been,
 * and the view the engine works on for each blue-green app of a targets file
 * (src/config/targets.ts builds that view and parses it with this schema).
 */
export const configSchema = z
  .object({ ...scopeShape, app: appSchema.default(() => appSchema.parse({})) })
  .strict()
  .superRefine((c, ctx) => {
    checkScope(c, ctx);
    if (c.app.colorPorts.blue === c.app.frontPort || c.app.colorPorts.green === c.app.frontPort) {
      ctx.addIssue({ code: 'custom', path: ['app', 'colorPorts'], message: 'must differ from app.frontPort' });
    }
  });

/** The per-app view of a recreate app (src/config/targets.ts). */
export const recreateConfigSchema = z
  .object({ ...scopeShape, app: recreateAppSchema })
  .strict()
  .superRefine(checkScope);

export type RecreateConfig = z.infer<typeof recreateConfigSchema>;

/**
 * A swarm-service app: one Docker Swarm service on a `driver: swarm` target
 * (the SSH host is a Swarm manager), updated by the manager itself with
 * start-first, health-gated, automatically rolled back updates (src/swarm).
 */
export const swarmAppSchema = z
  .object({
    name,
    /** The Swarm service's name (default: the app's name). */
    service: name.optional(),
    /** Git checkout on the manager (Dockerfile at its root): the image is built there. */
    checkoutDir: absPath,
    /** Desired replicas, for status (the service's own spec is what runs). */
    replicas: z.number().int().min(1).max(100).default(2),
    containerPort: port.default(8081),
    healthPath: z.string().regex(/^\/[\x21-\x7e]*$/, 'must be a URL path starting with /').default('/health'),
    /** The overlay network the tasks and the front share. */
    network: name.optional(),
    /** The front's URL (whatever proxy reaches the tasks: no routing mesh needed). */
    frontUrl: z.url().optional(),
    publicHealthUrl: z.url().optional(),
    /** How long each new task must stay healthy before the update moves on: the automatic rollback's window. */
    updateMonitorSeconds: z.number().min(1).max(600).default(5),
    /** Bound for following one update to its end (the manager carries on past it). */
    updateTimeoutSeconds: z.number().int().min(10).max(7_200).default(600),
    /**
     * Bound for one log read (the service's, a task's): the manager sometimes
     * never ends a service's log stream, above all right after an update.
     */
    logsTimeoutSeconds: z.number().min(1).max(60).default(8),
  })
  .strict();

/** The per-app view of a swarm-service app (src/config/targets.ts). */
export const swarmConfigSchema = z
  .object({ ...scopeShape, app: swarmAppSchema })
  .strict()
  .superRefine(checkScope);

export type SwarmConfig = z.infer<typeof swarmConfigSchema>;
export type SwarmAppConfig = SwarmConfig['app'];
export type RecreateAppConfig = RecreateConfig['app'];

export type Config = z.infer<typeof configSchema>;
export type AppConfig = Config['app'];

/** Secrets, resolved from env or files. Never logged, never in tool output. */
export interface Secrets {
  /** The first target's sudo password (the single-NAS file's only one). */
  sudoPassword?: string;
  /** Each target's sudo password, by target name. */
  sudoPasswordByTarget?: Record<string, string>;
  sshPassphrase?: string;
  /** SSH password login: supported for migration only; keys are preferred. */
  sshPassword?: string;
  apiToken?: string;
  /** Passphrase typed on the OAuth consent page (LOOP_OPS_ADMIN_PASSPHRASE(_FILE) only); hashed with scrypt at startup. */
  adminPassphrase?: string;
  /** `notify.webhooks[i]`'s URL, same index (from `url` or `urlFile`): their paths and queries are tokens. */
  webhookUrls?: string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Keys that hold secrets: refused in the file, so nobody commits them. */
const SECRET_KEYS = ['password', 'passphrase', 'token', 'sudoPassword', 'sshPassphrase', 'adminPassphrase'];

/**
 * Environment overrides: `LOOP_OPS__SECTION__KEY=value` sets `section.key`
 * (SNAKE_CASE turned into camelCase). Values are parsed as JSON when they
 * look like JSON (numbers, booleans, arrays), else taken as strings.
 */
export function envOverrides(env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(env)) {
    if (!k.startsWith('LOOP_OPS__') || raw === undefined) continue;
    const path = k
      .slice('LOOP_OPS__'.length)
      .split('__')
      .map((part) => part.toLowerCase().replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase()));
    if (path.some((p) => p === '' || p === '__proto__' || p === 'constructor' || p === 'prototype')) continue;
    let value: unknown = raw;
    if (/^(true|false|-?\d+(\.\d+)?|\[.*\]|\{.*\})$/s.test(raw.trim())) {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      node = (next && typeof next === 'object' ? next : (node[part] = {})) as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = value;
  }
  return out;
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

function findInlineSecrets(obj: unknown, path: string[] = []): string[] {
  if (!obj || typeof obj !== 'object') return [];
  const found: string[] = [];
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    if (SECRET_KEYS.includes(k)) found.push([...path, k].join('.'));
    else found.push(...findInlineSecrets(v, [...path, k]));
  }
  return found;
}

function parseFile(file: string, text: string): unknown {
  if (/\.json$/i.test(file)) return JSON.parse(text);
  return parseYaml(text);
}

/** Paths in the file are relative to the file's directory. */
const RELATIVE_PATH_KEYS: Array<[string, string]> = [
  ['nas', 'privateKeyPath'],
  ['nas', 'knownHostsPath'],
  ['sudo', 'passwordFile'],
  ['server', 'tokenFile'],
  ['log', 'auditFile'],
];

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

export interface LoadOptions {
  /** Path to a YAML or JSON file; optional (env alone can configure). */
  file?: string;
  env?: Env;
  /** Only the plain config is needed (e.g. `sudoers`): secrets are neither read nor required. */
  withoutSecrets?: boolean;
}

export interface LoadedConfig {
  /** Every target and app, and the global sections (src/config/targets.ts). */
  config: RootConfig;
  secrets: Secrets;
}

/** Reads a secret from VAR, or from the file named by VAR_FILE, or a configured file. */
function readSecret(env: Env, varName: string, file: string | undefined, problems: string[]): string | undefined {
  const direct = env[varName];
  if (direct !== undefined && direct !== '') return direct;
  const path = env[`${varName}_FILE`] ?? file;
  if (!path) return undefined;
  try {
    // Strip one trailing newline: `echo secret > file` is the common way to write it.
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    problems.push(`${varName}: cannot read secret file ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

function readSecretFile(path: string, what: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    problems.push(`${what}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** `staging-eu` → `STAGING_EU`: the suffix of a target's own environment variables. */
export const targetEnvSuffix = (target: string) => target.toUpperCase().replace(/[^A-Z0-9]/g, '_');

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  let fromFile: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (e) {
      throw new ConfigError([`cannot read config file ${opts.file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
    let parsed: unknown;
    try {
      parsed = parseFile(opts.file, text);
    } catch (e) {
      throw new ConfigError([`config file ${opts.file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`]);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new ConfigError([`config file ${opts.file} must hold a mapping at the top level`]);
    }
    fromFile = (parsed ?? {}) as Record<string, unknown>;
    for (const p of findInlineSecrets(fromFile)) {
      problems.push(`${p}: secrets may not be written in the config file; use an environment variable or a *File path`);
    }
    const baseDir = dirname(resolve(opts.file));
    const resolveRelative = (root: Record<string, unknown>, keys: Array<[string, string]>) => {
      for (const [section, key] of keys) {
        const s = root[section] as Record<string, unknown> | undefined;
        const v = s && typeof s === 'object' ? s[key] : undefined;
        if (typeof v === 'string' && v !== '' && !isAbsolute(v)) s![key] = resolve(baseDir, v);
      }
    };
    resolveRelative(fromFile, RELATIVE_PATH_KEYS);
    const targets = fromFile.targets;
    if (targets && typeof targets === 'object' && !Array.isArray(targets)) {
      for (const t of Object.values(targets as Record<string, unknown>)) {
        if (t && typeof t === 'object' && !Array.isArray(t)) resolveRelative(t as Record<string, unknown>, RELATIVE_PATH_KEYS.filter(([s]) => s === 'nas' || s === 'sudo'));
      }
    }
    const hooks = (fromFile.notify as { webhooks?: unknown } | undefined)?.webhooks;
    if (Array.isArray(hooks)) {
      for (const h of hooks as Array<Record<string, unknown>>) {
        if (h && typeof h.urlFile === 'string' && h.urlFile !== '' && !isAbsolute(h.urlFile)) h.urlFile = resolve(baseDir, h.urlFile);
      }
    }
    const oauthFile = (fromFile.auth as { oauth?: Record<string, unknown> } | undefined)?.oauth;
    if (oauthFile && typeof oauthFile.stateFile === 'string' && oauthFile.stateFile !== '' && !isAbsolute(oauthFile.stateFile)) {
      oauthFile.stateFile = resolve(baseDir, oauthFile.stateFile);
    }
  }
  const merged = deepMerge(fromFile, envOverrides(env));
  let config: RootConfig | undefined;
  if (isTargetsFormat(merged)) {
    const r = parseTargets(merged);
    if (r.root) config = r.root;
    else problems.push(...r.issues.map((i) => `${i.path}: ${i.message}`));
  } else {
    const result = configSchema.safeParse(merged);
    if (result.success) config = singleNasRoot(result.data);
    else problems.push(...formatIssues(result.error));
  }
  if (problems.length || !config) throw new ConfigError(problems);
  if (opts.withoutSecrets) return { config, secrets: {} };

  // Each target's sudo password: LOOP_OPS_SUDO_PASSWORD_<TARGET>(_FILE), its sudo.passwordFile, then the shared one.
  const sudoPasswordByTarget: Record<string, string> = {};
  for (const t of config.targets) {
    const sudo = t.apps[0]!.config.sudo;
    if (sudo.mode !== 'password') continue;
    const own = config.singleNas ? undefined : readSecret(env, `LOOP_OPS_SUDO_PASSWORD_${targetEnvSuffix(t.name)}`, undefined, problems);
    const pw = own ?? readSecret(env, 'LOOP_OPS_SUDO_PASSWORD', sudo.passwordFile, problems);
    if (pw === undefined) {
      problems.push(
        config.singleNas
          ? 'sudo.mode is "password" but no password was given: set LOOP_OPS_SUDO_PASSWORD, LOOP_OPS_SUDO_PASSWORD_FILE or sudo.passwordFile'
          : `targets.${t.name}.sudo.mode is "password" but no password was given: set LOOP_OPS_SUDO_PASSWORD_${targetEnvSuffix(t.name)}(_FILE), targets.${t.name}.sudo.passwordFile or LOOP_OPS_SUDO_PASSWORD(_FILE)`,
      );
    } else sudoPasswordByTarget[t.name] = pw;
  }
  const first = config.targets[0]!;
  const secrets: Secrets = {
    sudoPassword: sudoPasswordByTarget[first.name],
    sudoPasswordByTarget,
    sshPassphrase: readSecret(env, 'LOOP_OPS_SSH_PASSPHRASE', undefined, problems),
    sshPassword: readSecret(env, 'LOOP_OPS_SSH_PASSWORD', undefined, problems),
    apiToken: readSecret(env, 'LOOP_OPS_TOKEN', config.server.tokenFile, problems),
    adminPassphrase: readSecret(env, 'LOOP_OPS_ADMIN_PASSPHRASE', undefined, problems),
  };
  if (config.notify.webhooks.length) {
    secrets.webhookUrls = config.notify.webhooks.map((w, i) => {
      if (w.url) return w.url;
      const url = readSecretFile(w.urlFile!, `notify.webhooks.${i}.urlFile`, problems);
      if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url)) problems.push(`notify.webhooks.${i}.urlFile: ${w.urlFile} must hold one http(s) URL`);
      return url ?? '';
    });
    // The config stays free of secrets (it may be printed): the URL lives in Secrets only.
    config.notify.webhooks = config.notify.webhooks.map(({ url: _url, ...rest }) => rest);
  }
  if (config.auth.oauth.enabled) {
    if (!secrets.adminPassphrase) {
      problems.push('auth.oauth.enabled needs an admin passphrase: set LOOP_OPS_ADMIN_PASSPHRASE or LOOP_OPS_ADMIN_PASSPHRASE_FILE');
    } else if (secrets.adminPassphrase.length < 12) {
      problems.push('LOOP_OPS_ADMIN_PASSPHRASE must be at least 12 characters');
    }
  }
  for (const t of config.targets) {
    const nas = t.apps[0]!.config.nas;
    if (!nas.privateKeyPath && !nas.useAgent && !secrets.sshPassword) {
      const at = config.singleNas ? 'nas' : `targets.${t.name}.nas`;
      problems.push(`no SSH login configured: set ${at}.privateKeyPath (recommended), ${at}.useAgent, or LOOP_OPS_SSH_PASSWORD(_FILE)`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { config, secrets };
}

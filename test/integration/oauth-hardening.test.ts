/**
 * The OAuth server against hostile callers, over real HTTP on loopback with
 * the fake tools (no NAS, so no sandbox lock needed):
 * - concurrent wrong passphrases: one scrypt check per address at a time,
 *   marked before the check; a global failure budget across addresses
 *   (distinct client addresses 127.0.0.x);
 * - registration only for allowed redirect hosts, with size caps, only the
 *   used fields stored, client secrets as digests;
 * - /authorize never redirects an invalid request; read-only preselected;
 *   `iss` on every authorization response (RFC 9207);
 * - Client ID Metadata Documents served by a loopback HTTP server here:
 *   accepted, and refused for a wrong host, an unlisted redirect URI, an
 *   oversize document, a redirect, a client_id mismatch, a private address;
 * - `oauth-clients list|revoke` against the live server's state file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOAuthClients } from '../../src/cli/oauthClients.js';
import { configSchema, type Config } from '../../src/config.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import type { OAuthRuntimeOptions } from '../../src/auth/index.js';
import { API_TOKEN, SUDO_PASSWORD, testConfig, testDeps } from '../unit/server/fixtures.js';

const PUBLIC = 'https://ops.example.test';
const ISSUER = `${PUBLIC}/`;
const RESOURCE = `${PUBLIC}/mcp`;
const PASSPHRASE = 'correct horse battery staple';
const CLAUDE_REDIRECT = 'https://claude.ai/api/mcp/auth_callback';
const CHATGPT_REDIRECT = 'https://chatgpt.com/connector_platform_oauth_redirect';

function oauthConfig(stateFile: string, extra: Record<string, unknown> = {}): Config {
  const parsed = configSchema.parse({
    nas: { username: 'ops', privateKeyPath: '/nonexistent/id_ed25519', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
    auth: { oauth: { enabled: true, publicBaseUrl: PUBLIC, stateFile, ...extra } },
  });
  return { ...testConfig(), auth: parsed.auth };
}

const clock = { t: Date.UTC(2026, 0, 10, 12, 0, 0) };

async function start(stateFile: string, extra: Record<string, unknown> = {}, oauth: OAuthRuntimeOptions = {}): Promise<RunningHttp> {
  const deps = testDeps({
    config: oauthConfig(stateFile, extra),
    secrets: { sudoPassword: SUDO_PASSWORD, apiToken: API_TOKEN, adminPassphrase: PASSPHRASE },
  });
  return startHttp(deps, { oauth: { now: () => clock.t, rateLimit: false, ...oauth } });
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function register(url: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/register`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

function authorizeQuery(clientId: string, redirect: string, challenge: string, extra: Record<string, string> = {}): URLSearchParams {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirect,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'st-1',
    scope: 'ops:read ops:write',
    resource: RESOURCE,
    ...extra,
  });
}

async function authorize(url: string, q: URLSearchParams): Promise<{ status: number; html: string; location: string | null; pending: string; csrf: string }> {
  const res = await fetch(`${url}/authorize?${q}`, { redirect: 'manual' });
  const html = await res.text();
  return {
    status: res.status,
    html,
    location: res.headers.get('location'),
    pending: /name="pending" value="([^"]+)"/.exec(html)?.[1] ?? '',
    csrf: /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '',
  };
}

/** POST the consent form from a chosen local address (the server sees it as the client's). */
function postConsent(
  url: string,
  form: { pending: string; csrf: string },
  passphrase: string,
  opts: { localAddress?: string; action?: string; access?: string } = {},
): Promise<{ status: number; location: string | undefined; body: string }> {
  const body = new URLSearchParams({
    pending: form.pending,
    csrf: form.csrf,
    passphrase,
    access: opts.access ?? 'write',
    action: opts.action ?? 'approve',
  }).toString();
  const u = new URL(`${url}/oauth/consent`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        agent: false,
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), Host: u.host },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function token(url: string, params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const initBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});
const mcpInit = (url: string, accessToken: string) =>
  fetch(`${url}/mcp`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${accessToken}` },
    body: initBody,
  });

describe('OAuth against hostile callers', () => {
  let dir: string;
  let stateFile: string;
  let running: RunningHttp;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loop-ops-oauth-hard-'));
    stateFile = join(dir, 'oauth.json');
    running = await start(stateFile);
    url = running.url;
  });
  afterAll(async () => {
    await running?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const publicClient = async (redirect = CLAUDE_REDIRECT, name = 'Claude') => {
    const r = await register(url, { redirect_uris: [redirect], client_name: name, token_endpoint_auth_method: 'none' });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json as { client_id: string };
  };

  it('40 concurrent wrong passphrases from one address: one scrypt check, 39 refused before checking', async () => {
    const c = await publicClient();
    const form = await authorize(url, authorizeQuery(c.client_id, CLAUDE_REDIRECT, pkce().challenge));
    expect(form.status).toBe(200);
    const provider = running.http.oauth!.provider;
    const before = provider.passphraseChecks;
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => postConsent(url, form, `wrong passphrase ${i}`)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(1);
    expect(statuses.filter((s) => s === 429)).toHaveLength(39);
    // Refused by the consent gate (the page says why), not by an HTTP rate limit.
    for (const r of results.filter((x) => x.status === 429)) expect(r.body).toMatch(/being checked already|Too many wrong passphrases/);
    expect(provider.passphraseChecks - before).toBe(1);
    // Still refused right after, even with the right passphrase (back-off), and not checked.
    expect((await postConsent(url, form, PASSPHRASE)).status).toBe(429);
    expect(provider.passphraseChecks - before).toBe(1);
    clock.t += 2_000;
    const ok = await postConsent(url, form, PASSPHRASE);
    expect(ok.status).toBe(302);
    expect(provider.passphraseChecks - before).toBe(2);
  });

  it('consent redirect carries iss (RFC 9207); so does a denial; metadata advertises iss and metadata documents', async () => {
    const c = await publicClient();
    const form = await authorize(url, authorizeQuery(c.client_id, CLAUDE_REDIRECT, pkce().challenge));
    const ok = await postConsent(url, form, PASSPHRASE, { localAddress: '127.0.0.9' });
    expect(ok.status).toBe(302);
    const loc = new URL(ok.location!);
    expect(loc.searchParams.get('iss')).toBe(ISSUER);
    expect(loc.searchParams.get('code')).toMatch(/^lo_ac_/);
    expect(loc.searchParams.get('state')).toBe('st-1');
    const form2 = await authorize(url, authorizeQuery(c.client_id, CLAUDE_REDIRECT, pkce().challenge));
    const deny = await postConsent(url, form2, '', { action: 'deny' });
    const dl = new URL(deny.location!);
    expect(dl.searchParams.get('error')).toBe('access_denied');
    expect(dl.searchParams.get('iss')).toBe(ISSUER);
    // An error after the redirect URI is known (wrong resource) also carries iss.
    const wrong = await authorize(url, authorizeQuery(c.client_id, CLAUDE_REDIRECT, pkce().challenge, { resource: 'https://other.example/mcp' }));
    expect(wrong.status).toBe(302);
    expect(new URL(wrong.location!).searchParams.get('iss')).toBe(ISSUER);
    const md = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(md.issuer).toBe(ISSUER);
    expect(md.client_id_metadata_document_supported).toBe(true);
    expect(md.authorization_response_iss_parameter_supported).toBe(true);
    expect(md.registration_endpoint).toBe(`${PUBLIC}/register`);
  });

  it('the consent page preselects read-only even when the client asks for ops:write', async () => {
    const c = await publicClient();
    const form = await authorize(url, authorizeQuery(c.client_id, CLAUDE_REDIRECT, pkce().challenge, { scope: 'ops:write offline_access' }));
    expect(form.status).toBe(200);
    expect(form.html).toMatch(/<input type="radio" name="access" value="read" checked>/);
    expect(form.html).toMatch(/<input type="radio" name="access" value="write">/);
  });

  it('registration: phishing and unlisted hosts refused; chatgpt.com, claude.ai, claude.com and loopback accepted', async () => {
    for (const bad of [
      'https://chatgpt.com.evil.example/cb',
      'https://evil.example/chatgpt.com/cb',
      'https://evilchatgpt.com/cb',
      'https://sub.claude.ai/cb',
      'http://chatgpt.com/cb',
      'https://chatgpt.com:8443/cb',
      'https://user@chatgpt.com/cb',
      'http://10.0.0.1/cb',
    ]) {
      const r = await register(url, { redirect_uris: [bad], client_name: 'ChatGPT', token_endpoint_auth_method: 'none' });
      expect(r.status, bad).toBe(400);
      expect(r.json.error, bad).toBe('invalid_client_metadata');
    }
    for (const good of [CHATGPT_REDIRECT, CLAUDE_REDIRECT, 'https://claude.com/api/mcp/auth_callback', 'http://127.0.0.1:33418/cb', 'http://localhost/cb', 'https://[::1]:9/cb']) {
      const r = await register(url, { redirect_uris: [good], token_endpoint_auth_method: 'none' });
      expect(r.status, good).toBe(201);
    }
  });

  it('registration: size caps; only the used fields are stored; the client secret only as a digest', async () => {
    const base = { token_endpoint_auth_method: 'none', redirect_uris: [CLAUDE_REDIRECT] };
    expect((await register(url, { ...base, client_name: 'x'.repeat(101) })).status).toBe(400);
    expect((await register(url, { ...base, redirect_uris: Array.from({ length: 6 }, (_, i) => `${CLAUDE_REDIRECT}?n=${i}`) })).status).toBe(400);
    expect((await register(url, { ...base, redirect_uris: [`${CLAUDE_REDIRECT}?p=${'a'.repeat(1_000)}`] })).status).toBe(400);
    const big = await register(url, { ...base, client_name: 'ok', logo_uri: `https://claude.ai/${'l'.repeat(9_000)}` });
    expect(big.status).toBe(413);

    const r = await register(url, {
      redirect_uris: [CHATGPT_REDIRECT],
      client_name: 'ChatGPT',
      token_endpoint_auth_method: 'client_secret_post',
      logo_uri: 'https://chatgpt.com/logo.png',
      contacts: ['a@example.com'],
      client_uri: 'https://chatgpt.com',
      software_id: 'x',
      scope: 'ops:read ops:write',
    });
    expect(r.status).toBe(201);
    const secret = String(r.json.client_secret);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    const id = String(r.json.client_id);
    const text = readFileSync(stateFile, 'utf8');
    expect(text).not.toContain(secret);
    const stored = (JSON.parse(text) as { clients: Record<string, Record<string, unknown>> }).clients[id]!;
    expect(Object.keys(stored).sort()).toEqual(['client_id', 'client_id_issued_at', 'client_name', 'client_secret_sha256', 'redirect_uris', 'token_endpoint_auth_method']);
    expect(stored.client_secret_sha256).toBe(createHash('sha256').update(secret).digest('hex'));

    // The secret still authenticates (checked against the digest); the digest itself does not.
    const { verifier, challenge } = pkce();
    const form = await authorize(url, authorizeQuery(id, CHATGPT_REDIRECT, challenge));
    const c = await postConsent(url, form, PASSPHRASE, { localAddress: '127.0.0.10' });
    const code = new URL(c.location!).searchParams.get('code')!;
    const params = { grant_type: 'authorization_code', client_id: id, code, code_verifier: verifier, redirect_uri: CHATGPT_REDIRECT };
    for (const wrong of [String(stored.client_secret_sha256), `${secret}x`, '']) {
      const t = await token(url, { ...params, client_secret: wrong });
      expect(t.status).toBe(400);
      expect(t.body.error).toBe('invalid_client');
    }
    expect((await token(url, params)).body.error).toBe('invalid_client');
    const t = await token(url, { ...params, client_secret: secret });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
  });

  it('/authorize never redirects an invalid request: unsupported response_type, bad PKCE, unknown client, unregistered redirect', async () => {
    const c = await publicClient();
    const { challenge } = pkce();
    const cases: [string, URLSearchParams, RegExp][] = [
      ['response_type=token', authorizeQuery(c.client_id, CLAUDE_REDIRECT, challenge, { response_type: 'token' }), /response_type/],
      ['no code_challenge', new URLSearchParams({ response_type: 'code', client_id: c.client_id, redirect_uri: CLAUDE_REDIRECT, state: 's' }), /code_challenge/],
      ['plain PKCE', authorizeQuery(c.client_id, CLAUDE_REDIRECT, challenge, { code_challenge_method: 'plain' }), /S256/],
      ['unknown client', authorizeQuery('no-such-client', CLAUDE_REDIRECT, challenge), /Unknown client/],
      ['unregistered redirect', authorizeQuery(c.client_id, 'https://evil.example/cb', challenge), /redirect_uri/],
      ['phishing redirect', authorizeQuery(c.client_id, 'https://claude.ai.evil.example/api/mcp/auth_callback', challenge), /redirect_uri/],
    ];
    for (const [name, q, why] of cases) {
      const r = await authorize(url, q);
      expect(r.status, name).toBe(400);
      expect(r.location, name).toBeNull();
      expect(r.html, name).toMatch(/Authorization request refused/);
      expect(r.html, name).toMatch(why);
    }
    // Repeated parameters (arrays) are refused the same way, not redirected.
    const dup = await fetch(`${url}/authorize?${authorizeQuery(c.client_id, CLAUDE_REDIRECT, challenge)}&state=again`, { redirect: 'manual' });
    expect(dup.status).toBe(400);
    expect(dup.headers.get('location')).toBeNull();
  });

  it('oauth-clients list and revoke: the running server ends the revoked client’s access at once', async () => {
    const cfg = join(dir, 'cli-config.yaml');
    writeFileSync(
      cfg,
      `nas: { username: ops, privateKeyPath: /k, hostKeyFingerprint: "SHA256:${'A'.repeat(43)}" }\nsudo: { mode: none }\nauth: { oauth: { stateFile: ${stateFile} } }\n`,
    );
    // The command prunes by the real clock: the server's must agree.
    clock.t = Math.max(clock.t, Date.now());
    const c = await publicClient(CLAUDE_REDIRECT, 'Revoke me');
    const { verifier, challenge } = pkce();
    const form = await authorize(url, authorizeQuery(c.client_id, CLAUDE_REDIRECT, challenge));
    const consent = await postConsent(url, form, PASSPHRASE, { localAddress: '127.0.0.11', access: 'read' });
    const code = new URL(consent.location!).searchParams.get('code')!;
    const t = await token(url, { grant_type: 'authorization_code', client_id: c.client_id, code, code_verifier: verifier, redirect_uri: CLAUDE_REDIRECT });
    expect(t.status).toBe(200);
    const access = String(t.body.access_token);
    expect((await mcpInit(url, access)).status).toBe(200);

    const io = () => {
      const out: string[] = [];
      const err: string[] = [];
      return { out, err, io: { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } } };
    };
    const l = io();
    expect(await runOAuthClients(['list', '--json', '--config', cfg], l.io)).toBe(0);
    const listed = (JSON.parse(l.out.join('')) as { clients: { client_id: string; client_name: string; grants: number; scopes: string[]; kind: string }[] }).clients;
    const mine = listed.find((x) => x.client_id === c.client_id)!;
    expect(mine).toMatchObject({ client_name: 'Revoke me', grants: 1, scopes: ['ops:read'], kind: 'registered' });
    const text = io();
    expect(await runOAuthClients(['list', '--config', cfg], text.io)).toBe(0);
    expect(text.out.join('')).toMatch(/CLIENT_ID\s+NAME/);
    expect(text.out.join('')).toContain(c.client_id);

    const r = io();
    expect(await runOAuthClients(['revoke', c.client_id, '--config', cfg], r.io)).toBe(0);
    expect(r.out.join('')).toContain(`Revoked ${c.client_id}`);
    // The running server picks the change up at the next request.
    expect((await mcpInit(url, access)).status).toBe(401);
    const rt = await token(url, { grant_type: 'refresh_token', client_id: c.client_id, refresh_token: String(t.body.refresh_token) });
    expect(rt.status).toBe(400);
    const after = io();
    expect(await runOAuthClients(['list', '--json', '--config', cfg], after.io)).toBe(0);
    expect(after.out.join('')).not.toContain(c.client_id);
    // The server keeps working with the other clients and keeps saving.
    await publicClient();

    const unknown = io();
    expect(await runOAuthClients(['revoke', 'nope', '--config', cfg], unknown.io)).toBe(1);
    const usage = io();
    expect(await runOAuthClients(['revoke', '--config', cfg], usage.io)).toBe(2);
    expect(await runOAuthClients(['frobnicate', '--config', cfg], usage.io)).toBe(2);
  });
});

describe('OAuth: global wrong-passphrase budget across addresses', () => {
  let dir: string;
  let running: RunningHttp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loop-ops-oauth-budget-'));
    running = await start(join(dir, 'oauth.json'), {}, { throttle: { globalFailureBudget: 5, globalWindowMs: 60_000, maxInFlight: 2 } });
  });
  afterAll(async () => {
    await running?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('40 concurrent wrong passphrases from 40 addresses: at most the budget is checked; then even the right one waits', async () => {
    const url = running.url;
    const r = await register(url, { redirect_uris: [CLAUDE_REDIRECT], token_endpoint_auth_method: 'none' });
    const id = String(r.json.client_id);
    const form = await authorize(url, authorizeQuery(id, CLAUDE_REDIRECT, pkce().challenge));
    const provider = running.http.oauth!.provider;
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => postConsent(url, form, `wrong ${i}`, { localAddress: `127.0.1.${i + 1}` })),
    );
    const checked = results.filter((x) => x.status === 401).length;
    expect(checked).toBeGreaterThanOrEqual(1);
    expect(checked).toBeLessThanOrEqual(5);
    const checks = provider.passphraseChecks;
    expect(checks).toBeGreaterThanOrEqual(1);
    expect(checks).toBeLessThanOrEqual(5);
    expect(results.filter((x) => x.status === 401)).toHaveLength(checks);
    expect(results.filter((x) => x.status === 429)).toHaveLength(40 - checks);
    for (const r of results.filter((x) => x.status === 429)) expect(r.body).toMatch(/checking other passphrases|from all addresses together/);
    // Spend the rest of the budget from fresh addresses, one at a time.
    for (let i = checks; i < 5; i++) expect((await postConsent(url, form, 'still wrong', { localAddress: `127.0.2.${i + 1}` })).status).toBe(401);
    expect(provider.passphraseChecks).toBe(5);
    const paused = await postConsent(url, form, PASSPHRASE, { localAddress: '127.0.3.1' });
    expect(paused.status).toBe(429);
    expect(paused.body).toMatch(/from all addresses together/);
    expect(provider.passphraseChecks).toBe(5);
    clock.t += 61_000;
    const ok = await postConsent(url, form, PASSPHRASE, { localAddress: '127.0.3.1' });
    expect(ok.status).toBe(302);
  });
});

/** A loopback HTTP server that serves client metadata documents. */
async function documentServer(): Promise<{ base: string; hits: string[]; set(path: string, body: string | ((base: string) => string), status?: number, headers?: Record<string, string>): void; close(): Promise<void> }> {
  const routes = new Map<string, { body: string | ((base: string) => string); status: number; headers: Record<string, string> }>();
  const hits: string[] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    const r = routes.get(req.url ?? '');
    if (!r) return res.writeHead(404).end();
    if (r.body === 'HANG') return; // never answers
    res.writeHead(r.status, { 'Content-Type': 'application/json', ...r.headers }).end(typeof r.body === 'function' ? r.body(base) : r.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    hits,
    set: (path, body, status = 200, headers = {}) => routes.set(path, { body, status, headers }),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

describe('OAuth: Client ID Metadata Documents', () => {
  let dir: string;
  let running: RunningHttp;
  let strict: RunningHttp;
  let docs: Awaited<ReturnType<typeof documentServer>>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loop-ops-oauth-cimd-'));
    docs = await documentServer();
    const fakeDns = async (host: string) => {
      if (host === 'cimd.internal.test') return [{ address: '10.0.0.7', family: 4 as const }];
      if (host === 'mixed.internal.test') return [{ address: '93.184.216.34', family: 4 as const }, { address: '::ffff:192.168.1.1', family: 6 as const }];
      throw new Error('ENOTFOUND');
    };
    running = await start(join(dir, 'oauth.json'), { allowedRedirectHosts: ['cimd.internal.test', 'mixed.internal.test'] }, {
      metadataDocuments: { allowLoopback: true, resolve: fakeDns, timeoutMs: 1_000 },
    });
    // Production settings: no loopback documents.
    strict = await start(join(dir, 'strict.json'));
  });
  afterAll(async () => {
    await running?.shutdown();
    await strict?.shutdown();
    await docs?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const doc = (path: string, extra: Record<string, unknown> = {}) => (base: string) =>
    JSON.stringify({ client_id: `${base}${path}`, client_name: 'Doc Client', redirect_uris: [CLAUDE_REDIRECT], token_endpoint_auth_method: 'none', ...extra });

  it('accepted: consent names the document’s client, the code exchanges for tokens, the client is listed; fetched once (cached)', async () => {
    docs.set('/good.json', doc('/good.json'));
    const id = `${docs.base}/good.json`;
    const { verifier, challenge } = pkce();
    const form = await authorize(running.url, authorizeQuery(id, CLAUDE_REDIRECT, challenge));
    expect(form.status, form.html).toBe(200);
    expect(form.html).toContain('Doc Client');
    const c = await postConsent(running.url, form, PASSPHRASE, { localAddress: '127.0.4.1' });
    expect(c.status).toBe(302);
    const loc = new URL(c.location!);
    expect(loc.searchParams.get('iss')).toBe(ISSUER);
    const t = await token(running.url, { grant_type: 'authorization_code', client_id: id, code: loc.searchParams.get('code')!, code_verifier: verifier, redirect_uri: CLAUDE_REDIRECT });
    expect(t.status, JSON.stringify(t.body)).toBe(200);
    expect((await mcpInit(running.url, String(t.body.access_token))).status).toBe(200);
    expect(docs.hits.filter((h) => h === '/good.json')).toHaveLength(1);
    const state = JSON.parse(readFileSync(join(dir, 'oauth.json'), 'utf8')) as { clients: Record<string, { metadataDocument?: boolean }> };
    expect(state.clients[id]?.metadataDocument).toBe(true);
  });

  const refused = async (server: RunningHttp, id: string, redirect: string, why: RegExp) => {
    const r = await authorize(server.url, authorizeQuery(id, redirect, pkce().challenge));
    expect(r.status, id).toBe(400);
    expect(r.location, id).toBeNull();
    expect(r.html, id).toMatch(why);
  };

  it('refused: redirect URI not listed, client_id mismatch, oversize, a redirect, too slow, not JSON, client secret methods', async () => {
    docs.set('/one.json', doc('/one.json'));
    await refused(running, `${docs.base}/one.json`, 'https://chatgpt.com/connector_platform_oauth_redirect', /not one this client lists in its metadata document/);
    docs.set('/mismatch.json', doc('/other.json'));
    await refused(running, `${docs.base}/mismatch.json`, CLAUDE_REDIRECT, /client_id is not the URL/);
    docs.set('/big.json', doc('/big.json', { client_name: 'Big', padding: 'p'.repeat(6 * 1024) }));
    await refused(running, `${docs.base}/big.json`, CLAUDE_REDIRECT, /larger than 5120 bytes/);
    docs.set('/chunked.json', (b) => doc('/chunked.json', { padding: 'p'.repeat(6 * 1024) })(b), 200, { 'Transfer-Encoding': 'chunked' });
    await refused(running, `${docs.base}/chunked.json`, CLAUDE_REDIRECT, /larger than 5120 bytes/);
    docs.set('/moved.json', '', 302, { Location: 'http://169.254.169.254/latest/meta-data' });
    await refused(running, `${docs.base}/moved.json`, CLAUDE_REDIRECT, /HTTP 302.*redirects are not followed/);
    docs.set('/slow.json', 'HANG');
    await refused(running, `${docs.base}/slow.json`, CLAUDE_REDIRECT, /not received within 1000 ms/);
    docs.set('/html.json', '<html>');
    await refused(running, `${docs.base}/html.json`, CLAUDE_REDIRECT, /not JSON/);
    docs.set('/secret.json', doc('/secret.json', { token_endpoint_auth_method: 'client_secret_post' }));
    await refused(running, `${docs.base}/secret.json`, CLAUDE_REDIRECT, /token_endpoint_auth_method/);
    docs.set('/evilredirect.json', doc('/evilredirect.json', { redirect_uris: ['https://chatgpt.com.evil.example/cb'] }));
    await refused(running, `${docs.base}/evilredirect.json`, 'https://chatgpt.com.evil.example/cb', /not allowed/);
  });

  it('refused without fetching: a host off the allowlist, a private address, a loopback URL in production', async () => {
    const before = docs.hits.length;
    await refused(running, 'https://evil.example/client.json', CLAUDE_REDIRECT, /host &#34;evil.example&#34; is not allowed/);
    await refused(running, 'https://chatgpt.com.evil.example/client.json', CLAUDE_REDIRECT, /is not allowed/);
    await refused(running, 'http://chatgpt.com/client.json', CLAUDE_REDIRECT, /is not allowed/);
    await refused(running, 'https://cimd.internal.test/client.json', CLAUDE_REDIRECT, /non-public address/);
    await refused(running, 'https://mixed.internal.test/client.json', CLAUDE_REDIRECT, /non-public address/);
    await refused(running, 'https://chatgpt.com/', CLAUDE_REDIRECT, /must have a path/);
    await refused(running, 'https://chatgpt.com/a/../client.json', CLAUDE_REDIRECT, /dot segments/);
    docs.set('/good2.json', doc('/good2.json'));
    await refused(strict, `${docs.base}/good2.json`, CLAUDE_REDIRECT, /loopback is not accepted/);
    expect(docs.hits.length).toBe(before);
  });
});

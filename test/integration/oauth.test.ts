/**
 * The built-in OAuth 2.1 authorization server, end to end over real HTTP on
 * an ephemeral loopback port, with the fake tools (no NAS): discovery,
 * dynamic registration (ChatGPT's and Claude's redirect URIs), the consent
 * page with the admin passphrase, code + PKCE, a tool call with the token,
 * refresh rotation, revocation, restart persistence, scopes, expiry.
 *
 * The public base URL is a proxy name (https://ops.example.test) distinct
 * from the listening address, as behind a reverse proxy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type Config } from '../../src/config.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import { API_TOKEN, SUDO_PASSWORD, testConfig, testDeps, type TestDeps } from '../unit/server/fixtures.js';

const PUBLIC = 'https://ops.example.test';
const RESOURCE = `${PUBLIC}/mcp`;
const PRM_URL = `${PUBLIC}/.well-known/oauth-protected-resource`;
const PASSPHRASE = 'correct horse battery staple';
const CHATGPT_REDIRECT = 'https://chatgpt.com/connector/oauth/abc123';
const CLAUDE_REDIRECT = 'https://claude.ai/api/mcp/auth_callback';

const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

function oauthConfig(stateFile: string, extra: Partial<Config['auth']['oauth']> = {}): Config {
  const base = testConfig();
  const parsed = configSchema.parse({
    nas: { username: 'ops', privateKeyPath: '/nonexistent/id_ed25519', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
    log: { level: 'debug' },
    auth: { oauth: { enabled: true, publicBaseUrl: PUBLIC, stateFile, ...extra } },
  });
  return { ...base, auth: parsed.auth };
}

const clock = { t: Date.UTC(2026, 0, 10, 12, 0, 0) };

async function start(stateFile: string, secrets?: TestDeps['secrets']): Promise<{ running: RunningHttp; deps: TestDeps }> {
  const deps = testDeps({
    config: oauthConfig(stateFile),
    secrets: secrets ?? { sudoPassword: SUDO_PASSWORD, apiToken: API_TOKEN, adminPassphrase: PASSPHRASE },
  });
  const running = await startHttp(deps, { oauth: { now: () => clock.t, throttle: { baseDelayMs: 1_000 } } });
  return { running, deps };
}

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

interface Registered {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  client_name?: string;
}

async function register(url: string, redirect: string, name: string, confidential = false): Promise<Registered> {
  const res = await fetch(`${url}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      redirect_uris: [redirect],
      client_name: name,
      token_endpoint_auth_method: confidential ? 'client_secret_post' : 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'ops:read ops:write offline_access',
    }),
  });
  expect(res.status).toBe(201);
  return (await res.json()) as Registered;
}

interface ConsentForm {
  html: string;
  pending: string;
  csrf: string;
  headers: Headers;
  status: number;
}

function parseForm(res: Response, html: string): ConsentForm {
  const pending = /name="pending" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? '';
  return { html, pending, csrf, headers: res.headers, status: res.status };
}

async function authorize(
  url: string,
  client: Registered,
  challenge: string,
  opts: { scope?: string; resource?: string; state?: string } = {},
): Promise<ConsentForm> {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: client.redirect_uris[0]!,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: opts.state ?? 'st-123',
    scope: opts.scope ?? 'ops:read ops:write offline_access',
    resource: opts.resource ?? RESOURCE,
  });
  const res = await fetch(`${url}/authorize?${q}`, { redirect: 'manual' });
  return parseForm(res, await res.text());
}

async function consent(
  url: string,
  form: ConsentForm,
  passphrase: string,
  access: 'read' | 'write' = 'write',
): Promise<{ status: number; location: string | null; html: string; res: Response }> {
  const res = await fetch(`${url}/oauth/consent`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ pending: form.pending, csrf: form.csrf, passphrase, access, action: 'approve' }),
  });
  return { status: res.status, location: res.headers.get('location'), html: await res.text(), res };
}

async function token(url: string, params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
  expires_in: number;
}

/** Full dance: authorize → consent → code → tokens. */
async function obtainTokens(url: string, client: Registered, access: 'read' | 'write' = 'write'): Promise<Tokens> {
  const { verifier, challenge } = pkce();
  const form = await authorize(url, client, challenge);
  const c = await consent(url, form, PASSPHRASE, access);
  expect(c.status).toBe(302);
  const code = new URL(c.location!).searchParams.get('code')!;
  const t = await token(url, {
    grant_type: 'authorization_code',
    client_id: client.client_id,
    ...(client.client_secret ? { client_secret: client.client_secret } : {}),
    code,
    code_verifier: verifier,
    redirect_uri: client.redirect_uris[0]!,
    resource: RESOURCE,
  });
  expect(t.status, JSON.stringify(t.body)).toBe(200);
  return t.body as unknown as Tokens;
}

async function mcpClient(url: string, accessToken: string) {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
  });
  const client = new Client({ name: 'oauth-it', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

const mcpHeaders = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
const initBody = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});

describe('OAuth 2.1 authorization server (auth.oauth.enabled)', () => {
  let dir: string;
  let stateFile: string;
  let running: RunningHttp;
  let deps: TestDeps;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loop-ops-oauth-'));
    stateFile = join(dir, 'state', 'oauth.json');
    ({ running, deps } = await start(stateFile));
    url = running.url;
  });
  afterAll(async () => {
    await running?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('discovery: RFC 9728 protected resource (root and /mcp) and RFC 8414 metadata', async () => {
    for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
      const res = await fetch(`${url}${p}`);
      expect(res.status, p).toBe(200);
      const prm = (await res.json()) as Record<string, unknown>;
      expect(prm.resource).toBe(RESOURCE);
      expect(prm.authorization_servers).toEqual([`${PUBLIC}/`]);
      expect(prm.scopes_supported).toEqual(['ops:read', 'ops:write', 'offline_access']);
    }
    const res = await fetch(`${url}/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    const md = (await res.json()) as Record<string, unknown>;
    expect(md).toMatchObject({
      issuer: `${PUBLIC}/`,
      authorization_endpoint: `${PUBLIC}/authorize`,
      token_endpoint: `${PUBLIC}/token`,
      registration_endpoint: `${PUBLIC}/register`,
      revocation_endpoint: `${PUBLIC}/revoke`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      scopes_supported: ['ops:read', 'ops:write', 'offline_access'],
    });
    // Other /.well-known paths still 404.
    expect((await fetch(`${url}/.well-known/openid-configuration`)).status).toBe(404);
  });

  it('no token → 401 whose WWW-Authenticate names the protected resource metadata', async () => {
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: mcpHeaders, body: initBody });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="loop-ops-mcp", resource_metadata="${PRM_URL}"`);
  });

  it('the static bearer token keeps working beside OAuth (all scopes, caller token:<fp>)', async () => {
    const client = await mcpClient(url, API_TOKEN);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('restart_color');
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'static' } })) as CallToolResult;
    expect(textOf(r)).toMatch(/caller token:[0-9a-f]{12}/);
    await client.close();
  });

  it('registration: ChatGPT (confidential) and Claude (public) redirect URIs; bad ones refused', async () => {
    const gpt = await register(url, CHATGPT_REDIRECT, 'ChatGPT', true);
    expect(gpt.client_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(gpt.client_secret).toBeTruthy();
    expect(gpt.redirect_uris).toEqual([CHATGPT_REDIRECT]);
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    expect(claude.client_secret).toBeUndefined();
    for (const bad of ['http://evil.example/cb', 'javascript:alert(1)']) {
      const res = await fetch(`${url}/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [bad], token_endpoint_auth_method: 'none' }),
      });
      expect(res.status, bad).toBe(400);
    }
    // Persisted, 0600, with no token or code in clear.
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(stateFile, 'utf8')).toContain(gpt.client_id);
  });

  it('authorize page: escaped client name, redirect URI, CSP; wrong resource refused', async () => {
    const evil = await register(url, CLAUDE_REDIRECT, '<script>alert("x")</script>');
    const { challenge } = pkce();
    const form = await authorize(url, evil, challenge);
    expect(form.status).toBe(200);
    expect(form.html).not.toContain('<script>');
    expect(form.html).toContain('&#60;script&#62;');
    expect(form.html).toContain(CLAUDE_REDIRECT.replace(/\//g, '&#47;').replace(/:/g, ':'));
    expect(form.html).toMatch(/type="password"/);
    // Read-only preselected although the client asked for ops:write.
    expect(form.html).toMatch(/value="read" checked/);
    expect(form.html).not.toMatch(/value="write" checked/);
    const csp = form.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(csp).toContain("form-action 'self' https://claude.ai");
    expect(form.headers.get('x-frame-options')).toBe('DENY');
    expect(form.pending).not.toBe('');
    expect(form.csrf).not.toBe('');
    const wrong = await fetch(
      `${url}/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: evil.client_id,
        redirect_uri: CLAUDE_REDIRECT,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        state: 's1',
        resource: 'https://other.example/mcp',
      })}`,
      { redirect: 'manual' },
    );
    expect(wrong.status).toBe(302);
    const loc = new URL(wrong.headers.get('location')!);
    expect(loc.searchParams.get('error')).toBe('invalid_target');
    expect(loc.searchParams.get('state')).toBe('s1');
  });

  it('consent: wrong passphrase → page again + warn log (no passphrase), throttled; right one → code; bad CSRF refused', async () => {
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    const { verifier, challenge } = pkce();
    const form = await authorize(url, claude, challenge);
    const bad = await consent(url, form, 'not the passphrase');
    expect(bad.status).toBe(401);
    expect(bad.html).toContain('Wrong passphrase.');
    expect(bad.html).toContain(form.pending); // the same pending authorization, form again
    const warn = deps.logLines.find((l) => l.includes('wrong admin passphrase'));
    expect(warn).toBeDefined();
    expect(JSON.parse(warn!).level).toBe(40);
    expect(deps.logLines.join('\n')).not.toContain('not the passphrase');
    // Immediately again, even with the right passphrase: slowed down.
    const again = await consent(url, form, PASSPHRASE);
    expect(again.status).toBe(429);
    expect(Number(again.res.headers.get('retry-after'))).toBeGreaterThan(0);
    // A second failure doubles the wait.
    clock.t += 1_001;
    expect((await consent(url, form, 'nope nope nope')).status).toBe(401);
    clock.t += 1_001;
    expect((await consent(url, form, PASSPHRASE)).status).toBe(429);
    clock.t += 1_001;
    // CSRF token must match the pending authorization.
    const forged = await consent(url, { ...form, csrf: 'x'.repeat(32) }, PASSPHRASE);
    expect(forged.status).toBe(403);
    const ok = await consent(url, form, PASSPHRASE);
    expect(ok.status).toBe(302);
    const loc = new URL(ok.location!);
    expect(loc.origin + loc.pathname).toBe(CLAUDE_REDIRECT);
    expect(loc.searchParams.get('state')).toBe('st-123');
    expect(loc.searchParams.get('code')).toMatch(/^lo_ac_/);
    // The pending authorization is single use.
    expect((await consent(url, form, PASSPHRASE)).status).toBe(400);
    // The code is not stored in clear.
    expect(readFileSync(stateFile, 'utf8')).not.toContain(loc.searchParams.get('code')!);
    void verifier;
  });

  it('code exchange: wrong PKCE verifier refused, right one → tokens, reuse of the code refused', async () => {
    const gpt = await register(url, CHATGPT_REDIRECT, 'ChatGPT', true);
    const { verifier, challenge } = pkce();
    const form = await authorize(url, gpt, challenge);
    const c = await consent(url, form, PASSPHRASE, 'write');
    const code = new URL(c.location!).searchParams.get('code')!;
    const base = { grant_type: 'authorization_code', client_id: gpt.client_id, client_secret: gpt.client_secret!, code, redirect_uri: CHATGPT_REDIRECT };
    const wrong = await token(url, { ...base, code_verifier: pkce().verifier });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    const noSecret = await token(url, { ...base, client_secret: 'nope', code_verifier: verifier });
    expect(noSecret.status).toBe(400);
    expect(noSecret.body.error).toBe('invalid_client');
    const ok = await token(url, { ...base, code_verifier: verifier, resource: RESOURCE });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'ops:read ops:write offline_access' });
    expect(String(ok.body.access_token)).toMatch(/^lo_at_/);
    expect(String(ok.body.refresh_token)).toMatch(/^lo_rt_/);
    const reuse = await token(url, { ...base, code_verifier: verifier });
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe('invalid_grant');
    // Reuse of a code revokes what it granted.
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: { ...mcpHeaders, Authorization: `Bearer ${String(ok.body.access_token)}` },
      body: initBody,
    });
    expect(res.status).toBe(401);
    const state = readFileSync(stateFile, 'utf8');
    expect(state).not.toContain(String(ok.body.access_token));
    expect(state).not.toContain(String(ok.body.refresh_token));
  });

  it('a tool call with the OAuth token over Streamable HTTP (caller oauth:<client_id>)', async () => {
    const gpt = await register(url, CHATGPT_REDIRECT, 'ChatGPT', true);
    const t = await obtainTokens(url, gpt, 'write');
    const client = await mcpClient(url, t.access_token);
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name)).toContain('restart_color');
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'oauth' } })) as CallToolResult;
    expect(r.structuredContent).toEqual({ greeting: 'hello oauth', count: 1 });
    expect(textOf(r)).toContain(`caller oauth:${gpt.client_id}`);
    const w = (await client.callTool({ name: 'restart_color', arguments: { color: 'blue' } })) as CallToolResult;
    expect(w.isError).toBeFalsy();
    await client.close();
  });

  it('ops:read token: only read tools listed, a write tool refused', async () => {
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    const t = await obtainTokens(url, claude, 'read');
    expect(t.scope).toBe('ops:read offline_access');
    const client = await mcpClient(url, t.access_token);
    const names = (await client.listTools()).tools.map((x) => x.name);
    expect(names).toContain('echo_status');
    expect(names).not.toContain('restart_color');
    const before = deps.services.calls.restart_color ?? 0;
    const w = (await client.callTool({ name: 'restart_color', arguments: { color: 'green' } })) as CallToolResult;
    expect(w.isError).toBe(true);
    // The session was built for an ops:read caller: it has no write tool at all (the guard's
    // scope refusal, for a session whose credentials change later, is in test/unit/server).
    expect(textOf(w)).toMatch(/Tool restart_color not found/);
    expect(deps.services.calls.restart_color ?? 0).toBe(before);
    await client.close();
  });

  it('refresh: rotates; the old refresh token is refused afterwards (and its reuse ends the grant)', async () => {
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    const t1 = await obtainTokens(url, claude, 'write');
    const r1 = await token(url, { grant_type: 'refresh_token', client_id: claude.client_id, refresh_token: t1.refresh_token });
    expect(r1.status).toBe(200);
    const t2 = r1.body as unknown as Tokens;
    expect(t2.refresh_token).not.toBe(t1.refresh_token);
    expect(t2.access_token).not.toBe(t1.access_token);
    // Narrowing on refresh is allowed, widening is not.
    const narrow = await token(url, { grant_type: 'refresh_token', client_id: claude.client_id, refresh_token: t2.refresh_token, scope: 'ops:read' });
    expect(narrow.status).toBe(200);
    expect(narrow.body.scope).toBe('ops:read');
    const t3 = narrow.body as unknown as Tokens;
    const old = await token(url, { grant_type: 'refresh_token', client_id: claude.client_id, refresh_token: t1.refresh_token });
    expect(old.status).toBe(400);
    expect(old.body.error).toBe('invalid_grant');
    // That reuse revoked the grant: the newest tokens are dead too.
    const dead = await token(url, { grant_type: 'refresh_token', client_id: claude.client_id, refresh_token: t3.refresh_token });
    expect(dead.status).toBe(400);
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, Authorization: `Bearer ${t3.access_token}` }, body: initBody });
    expect(res.status).toBe(401);
  });

  it('another client cannot use a refresh token', async () => {
    const a = await register(url, CLAUDE_REDIRECT, 'A');
    const b = await register(url, CLAUDE_REDIRECT, 'B');
    const t = await obtainTokens(url, a);
    const r = await token(url, { grant_type: 'refresh_token', client_id: b.client_id, refresh_token: t.refresh_token });
    expect(r.status).toBe(400);
  });

  it('revocation: an access token, then a refresh token (with its grant), end access at once', async () => {
    const gpt = await register(url, CHATGPT_REDIRECT, 'ChatGPT', true);
    const t = await obtainTokens(url, gpt);
    const client = await mcpClient(url, t.access_token);
    await client.listTools();
    const rev = await fetch(`${url}/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: gpt.client_id, client_secret: gpt.client_secret!, token: t.access_token }),
    });
    expect(rev.status).toBe(200);
    // The open session is refused on its very next request.
    await expect(client.listTools()).rejects.toThrow();
    await client.close().catch(() => {});
    // The refresh token still works until it is revoked in turn.
    const r = await token(url, { grant_type: 'refresh_token', client_id: gpt.client_id, client_secret: gpt.client_secret!, refresh_token: t.refresh_token });
    expect(r.status).toBe(200);
    const t2 = r.body as unknown as Tokens;
    await fetch(`${url}/revoke`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: gpt.client_id, client_secret: gpt.client_secret!, token: t2.refresh_token, token_type_hint: 'refresh_token' }),
    });
    const after = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, Authorization: `Bearer ${t2.access_token}` }, body: initBody });
    expect(after.status).toBe(401);
    const rr = await token(url, { grant_type: 'refresh_token', client_id: gpt.client_id, client_secret: gpt.client_secret!, refresh_token: t2.refresh_token });
    expect(rr.status).toBe(400);
  });

  it('revoking a client (operator) ends its access at once', async () => {
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    const t = await obtainTokens(url, claude);
    expect(running.http.oauth!.provider.revokeClient(claude.client_id)).toBe(true);
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, Authorization: `Bearer ${t.access_token}` }, body: initBody });
    expect(res.status).toBe(401);
  });

  it('expired access token → 401 invalid_token with resource_metadata; refresh still works', async () => {
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    const t = await obtainTokens(url, claude);
    clock.t += 3_601_000;
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...mcpHeaders, Authorization: `Bearer ${t.access_token}` }, body: initBody });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer realm="loop-ops-mcp", error="invalid_token", error_description="the token has expired", resource_metadata="${PRM_URL}"`,
    );
    const r = await token(url, { grant_type: 'refresh_token', client_id: claude.client_id, refresh_token: t.refresh_token });
    expect(r.status).toBe(200);
  });

  it('restart (new app, same stateFile) keeps clients, grants and tokens', async () => {
    const claude = await register(url, CLAUDE_REDIRECT, 'Claude');
    const t = await obtainTokens(url, claude);
    await running.shutdown();
    ({ running, deps } = await start(stateFile));
    url = running.url;
    const client = await mcpClient(url, t.access_token);
    const r = (await client.callTool({ name: 'echo_status', arguments: { name: 'again' } })) as CallToolResult;
    expect(textOf(r)).toContain(`caller oauth:${claude.client_id}`);
    await client.close();
    const rr = await token(url, { grant_type: 'refresh_token', client_id: claude.client_id, refresh_token: t.refresh_token });
    expect(rr.status).toBe(200);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
  });
});

describe('OAuth off (default)', () => {
  it('/.well-known/oauth-* stay 404 and 401 carries no resource_metadata', async () => {
    const running = await startHttp(testDeps());
    try {
      for (const p of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-authorization-server']) {
        expect((await fetch(`${running.url}${p}`)).status, p).toBe(404);
      }
      expect((await fetch(`${running.url}/register`, { method: 'POST' })).status).toBe(404);
      const res = await fetch(`${running.url}/mcp`, { method: 'POST', headers: mcpHeaders, body: initBody });
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="loop-ops-mcp"');
    } finally {
      await running.shutdown();
    }
  });

  it('OAuth on without an admin passphrase refuses to start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loop-ops-oauth-'));
    try {
      const deps = testDeps({ config: oauthConfig(join(dir, 's.json')), secrets: { apiToken: API_TOKEN } });
      await expect(startHttp(deps)).rejects.toThrow(/LOOP_OPS_ADMIN_PASSPHRASE/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

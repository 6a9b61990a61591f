import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listClients, revokeClientInFile } from '../../../src/auth/admin.js';
import { RedirectHostAllowlist } from '../../../src/auth/allowlist.js';
import { ClientMetadataDocuments, isPublicAddress } from '../../../src/auth/metadataDocument.js';
import { OAuthStateStore, secretMatches, sha256hex } from '../../../src/auth/store.js';
import { PassphraseGate } from '../../../src/auth/throttle.js';
import { configSchema } from '../../../src/config.js';

describe('passphrase gate', () => {
  it('marks an attempt before its check: a second one from the address is refused while the first runs', () => {
    let now = 0;
    const g = new PassphraseGate({ now: () => now, baseDelayMs: 1_000 });
    const a = g.admit('1.2.3.4');
    expect(a.ok).toBe(true);
    expect(g.admit('1.2.3.4')).toMatchObject({ ok: false, reason: 'in-flight' });
    if (a.ok) a.done(false);
    expect(g.admit('1.2.3.4')).toMatchObject({ ok: false, reason: 'back-off', retryAfterMs: 1_000 });
    now += 1_000;
    const b = g.admit('1.2.3.4');
    expect(b.ok).toBe(true);
    if (b.ok) b.done(true);
    expect(g.failures('1.2.3.4')).toBe(0);
  });

  it('global in-flight cap and global failure budget; a success gives its mark back', () => {
    let now = 0;
    const g = new PassphraseGate({ now: () => now, globalFailureBudget: 3, globalWindowMs: 10_000, maxInFlight: 2 });
    const x = g.admit('a');
    const y = g.admit('b');
    expect(g.admit('c')).toMatchObject({ ok: false, reason: 'busy' });
    if (x.ok) x.done(true); // refunded
    if (y.ok) y.done(false);
    for (const k of ['c', 'd']) {
      const z = g.admit(k);
      expect(z.ok).toBe(true);
      if (z.ok) z.done(false);
    }
    const spent = g.admit('e');
    expect(spent).toMatchObject({ ok: false, reason: 'budget' });
    if (!spent.ok) expect(spent.retryAfterMs).toBe(10_000);
    now += 10_001;
    expect(g.admit('e').ok).toBe(true);
  });
});

describe('redirect host allowlist', () => {
  const list = new RedirectHostAllowlist(['apps.example.net']);
  it('exact hosts, https, default port; loopback any port; nothing else', () => {
    for (const ok of [
      'https://chatgpt.com/connector_platform_oauth_redirect',
      'https://claude.ai/api/mcp/auth_callback',
      'https://claude.com/api/mcp/auth_callback',
      'https://apps.example.net/cb',
      'http://127.0.0.1:5173/cb',
      'http://localhost/cb',
      'http://[::1]:8080/cb',
    ]) {
      expect(list.redirectUriProblem(ok), ok).toBeNull();
    }
    for (const bad of [
      'https://chatgpt.com.evil.example/cb',
      'https://x.apps.example.net/cb',
      'https://example.net/cb',
      'http://apps.example.net/cb',
      'https://chatgpt.com:444/cb',
      'https://chatgpt.com/cb#f',
      'ftp://localhost/cb',
      'javascript:alert(1)',
      `https://chatgpt.com/${'a'.repeat(1_000)}`,
    ]) {
      expect(list.redirectUriProblem(bad), bad).not.toBeNull();
    }
    expect(new RedirectHostAllowlist().redirectUriProblem('https://apps.example.net/cb')).not.toBeNull();
  });

  it('config: allowedRedirectHosts takes bare host names only', () => {
    const nas = { username: 'ops', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` };
    const parse = (hosts: unknown) => configSchema.safeParse({ nas, sudo: { mode: 'none' }, auth: { oauth: { allowedRedirectHosts: hosts } } });
    const ok = parse(['Apps.Example.NET']);
    expect(ok.success && ok.data.auth.oauth.allowedRedirectHosts).toEqual(['apps.example.net']);
    for (const bad of [['*.example.net'], ['https://apps.example.net'], ['apps.example.net:8443'], ['.example.net'], ['localhost'], ['a/b.c']]) {
      expect(parse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe('metadata document URLs and addresses', () => {
  const docs = new ClientMetadataDocuments({ allowlist: new RedirectHostAllowlist() });
  it('client_id URL rules', () => {
    expect(docs.urlProblem('https://chatgpt.com/oauth/client.json')).toBeNull();
    expect(docs.urlProblem('https://claude.ai/oauth/mcp-oauth-client-metadata')).toBeNull();
    expect(docs.urlProblem('https://evil.example/client.json')).toMatch(/not allowed/);
    expect(docs.urlProblem('http://chatgpt.com/client.json')).toMatch(/not allowed/);
    expect(docs.urlProblem('https://chatgpt.com')).toMatch(/path/);
    expect(docs.urlProblem('https://chatgpt.com/c.json?x=1')).toMatch(/query/);
    expect(docs.urlProblem('https://chatgpt.com/c.json#x')).toMatch(/fragment/);
    expect(docs.urlProblem('https://u:p@chatgpt.com/c.json')).toMatch(/credentials/);
    expect(docs.urlProblem('https://chatgpt.com/./c.json')).toMatch(/dot segments/);
    expect(docs.urlProblem('http://127.0.0.1:8080/c.json')).toMatch(/loopback/);
    const loop = new ClientMetadataDocuments({ allowlist: new RedirectHostAllowlist(), allowLoopback: true });
    expect(loop.urlProblem('http://127.0.0.1:8080/c.json')).toBeNull();
  });

  it('at most 4 different documents fetched at once; a slow resolver is cut off', async () => {
    const stuck = new ClientMetadataDocuments({
      allowlist: new RedirectHostAllowlist(),
      resolve: () => new Promise(() => {}),
      timeoutMs: 200,
    });
    const first = [1, 2, 3, 4].map((i) => stuck.resolve(`https://chatgpt.com/c${i}.json`));
    await expect(stuck.resolve('https://chatgpt.com/c5.json')).rejects.toThrow(/too many metadata documents/);
    for (const p of first) await expect(p).rejects.toThrow(/did not resolve within 200 ms/);
    // The failure is cached briefly: no new fetch for the same URL.
    await expect(stuck.resolve('https://chatgpt.com/c1.json')).rejects.toThrow(/did not resolve/);
  });

  it('public vs non-public addresses', () => {
    for (const a of ['93.184.216.34', '1.1.1.1', '2606:4700::1111', '::ffff:8.8.8.8']) expect(isPublicAddress(a), a).toBe(true);
    for (const a of ['10.1.2.3', '127.0.0.1', '169.254.169.254', '172.20.0.1', '192.168.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::a00:1', 'not an ip']) {
      expect(isPublicAddress(a), a).toBe(false);
    }
  });
});

describe('state file: secrets, migration, other writers', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oauth-hard-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a version 1 file (secrets in clear, whole registration) is rewritten: digest and used fields only', () => {
    const file = join(dir, 'state.json');
    const secret = 'f'.repeat(64);
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        clients: {
          c1: { client_id: 'c1', client_secret: secret, client_name: 'ChatGPT', redirect_uris: ['https://chatgpt.com/cb'], logo_uri: 'https://x/y.png', client_id_issued_at: 5 },
          c2: { client_id: 'c2', redirect_uris: ['https://claude.ai/cb'], token_endpoint_auth_method: 'none' },
        },
        grants: {},
        codes: {},
        accessTokens: {},
        refreshTokens: {},
      }),
    );
    const s = OAuthStateStore.open(file);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(secret);
    expect(text).not.toContain('logo_uri');
    expect(JSON.parse(text).version).toBe(2);
    expect(s.clients.get('c1')).toEqual({
      client_id: 'c1',
      client_name: 'ChatGPT',
      redirect_uris: ['https://chatgpt.com/cb'],
      token_endpoint_auth_method: 'client_secret_post',
      client_secret_sha256: sha256hex(secret),
      client_id_issued_at: 5,
    });
    expect(s.clients.get('c2')?.token_endpoint_auth_method).toBe('none');
    expect(secretMatches(secret, sha256hex(secret))).toBe(true);
    expect(secretMatches(sha256hex(secret), sha256hex(secret))).toBe(false);
  });

  it('syncFromDisk sees another process’s change; a conditional save refuses to overwrite one', () => {
    const file = join(dir, 'state.json');
    const server = OAuthStateStore.open(file);
    server.clients.set('c1', { client_id: 'c1', redirect_uris: ['https://claude.ai/cb'], token_endpoint_auth_method: 'none', client_id_issued_at: 1 });
    server.clients.set('c2', { client_id: 'c2', redirect_uris: ['https://claude.ai/cb'], token_endpoint_auth_method: 'none', client_id_issued_at: 2 });
    server.save();
    expect(listClients(file).map((c) => c.client_id)).toEqual(['c2', 'c1']);
    expect(revokeClientInFile(file, 'c1').revoked?.client_id).toBe('c1');
    expect(revokeClientInFile(file, 'c1').revoked).toBeNull();
    expect(server.clients.has('c1')).toBe(true);
    server.syncFromDisk();
    expect(server.clients.has('c1')).toBe(false);
    expect(server.clients.has('c2')).toBe(true);

    const cli = OAuthStateStore.open(file);
    server.clients.delete('c2');
    server.save();
    cli.clients.set('c3', { client_id: 'c3', redirect_uris: ['https://claude.ai/cb'], token_endpoint_auth_method: 'none', client_id_issued_at: 3 });
    expect(cli.save({ ifUnchanged: true })).toBe(false);
    expect(OAuthStateStore.open(file).clients.has('c3')).toBe(false);
  });
});

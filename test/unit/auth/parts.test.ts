import { describe, expect, it } from 'vitest';
import { escapeHtml, renderConsent } from '../../../src/auth/page.js';
import { PassphraseHash } from '../../../src/auth/passphrase.js';
import { scopesFor } from '../../../src/auth/provider.js';
import { FailureThrottle } from '../../../src/auth/throttle.js';
import { configSchema, ConfigError, loadConfig } from '../../../src/config.js';

describe('passphrase hash', () => {
  it('verifies the right passphrase only, and never serializes the hash', async () => {
    const h = await PassphraseHash.create('correct horse battery staple');
    expect(await h.verify('correct horse battery staple')).toBe(true);
    expect(await h.verify('correct horse battery stapl')).toBe(false);
    expect(await h.verify('')).toBe(false);
    expect(await h.verify('x'.repeat(5000))).toBe(false);
    expect(JSON.stringify({ h })).toBe('{"h":"[scrypt hash]"}');
    expect(await PassphraseHash.createSync('abc def ghi jkl').verify('abc def ghi jkl')).toBe(true);
  });
});

describe('failure throttle', () => {
  it('exponential per key, capped, cleared by a success', () => {
    let now = 0;
    const t = new FailureThrottle({ baseDelayMs: 1000, maxDelayMs: 5000, now: () => now });
    expect(t.waitMs('a')).toBe(0);
    expect(t.fail('a')).toEqual({ failures: 1, delayMs: 1000 });
    expect(t.waitMs('a')).toBe(1000);
    expect(t.waitMs('b')).toBe(0);
    expect(t.fail('a').delayMs).toBe(2000);
    expect(t.fail('a').delayMs).toBe(4000);
    expect(t.fail('a').delayMs).toBe(5000);
    now += 5000;
    expect(t.waitMs('a')).toBe(0);
    t.succeed('a');
    expect(t.fail('a').delayMs).toBe(1000);
  });

  it('bounded memory', () => {
    const t = new FailureThrottle({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) t.fail(k);
    expect(t.waitMs('a')).toBe(0);
    expect(t.waitMs('d')).toBeGreaterThan(0);
  });
});

describe('consent page', () => {
  it('escapes everything interpolated', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&`)).not.toMatch(/[<>"'&](?!#)/);
    const html = renderConsent(
      {
        clientName: '"><img src=x onerror=alert(1)>',
        clientId: 'id<1>',
        redirectUri: 'https://chatgpt.com/connector/oauth/abc123?x="y"',
        pendingId: 'p',
        csrf: 'c',
        resource: 'https://ops.example/mcp',
        error: '<b>bad</b>',
      },
      'NONCE',
    );
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<b>');
    expect(html).toContain('<style nonce="NONCE">');
    expect(html).toContain('chatgpt.com');
    expect(html).toMatch(/value="read" checked/);
    expect(html).not.toMatch(/<script/i);
  });

  it('scopes: write implies read; offline_access only when asked', () => {
    expect(scopesFor('read', [])).toEqual(['ops:read']);
    expect(scopesFor('write', ['offline_access'])).toEqual(['ops:read', 'ops:write', 'offline_access']);
  });
});

describe('config: auth section', () => {
  const nas = { username: 'ops', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` };
  const parse = (auth: unknown) => configSchema.safeParse({ nas, sudo: { mode: 'none' }, auth });

  it('defaults: OAuth off, trustProxy false, TTLs', () => {
    const c = configSchema.parse({ nas, sudo: { mode: 'none' } });
    expect(c.auth).toEqual({
      oauth: { enabled: false, accessTokenTtlSeconds: 3600, refreshTokenTtlDays: 30, allowedRedirectHosts: [] },
      trustProxy: false,
    });
  });

  it('enabled needs an https origin (http only on loopback) and a stateFile', () => {
    expect(parse({ oauth: { enabled: true } }).success).toBe(false);
    expect(parse({ oauth: { enabled: true, publicBaseUrl: 'http://ops.example.com', stateFile: '/s' } }).success).toBe(false);
    expect(parse({ oauth: { enabled: true, publicBaseUrl: 'https://ops.example.com/sub', stateFile: '/s' } }).success).toBe(false);
    expect(parse({ oauth: { enabled: true, publicBaseUrl: 'https://ops.example.com', stateFile: '/s' } }).success).toBe(true);
    expect(parse({ oauth: { enabled: true, publicBaseUrl: 'http://127.0.0.1:8765', stateFile: '/s' } }).success).toBe(true);
    expect(parse({ trustProxy: 1 }).success).toBe(true);
    expect(parse({ trustProxy: 'yes' }).success).toBe(false);
  });

  it('the admin passphrase comes from the env only and is required with OAuth on', () => {
    const env = {
      LOOP_OPS__NAS__USERNAME: 'ops',
      LOOP_OPS__NAS__PRIVATE_KEY_PATH: '/k',
      LOOP_OPS__NAS__HOST_KEY_FINGERPRINT: `SHA256:${'A'.repeat(43)}`,
      LOOP_OPS__SUDO__MODE: 'none',
      LOOP_OPS__AUTH__OAUTH__ENABLED: 'true',
      LOOP_OPS__AUTH__OAUTH__PUBLIC_BASE_URL: 'https://ops.example.com',
      LOOP_OPS__AUTH__OAUTH__STATE_FILE: '/var/lib/loop-ops/oauth.json',
      LOOP_OPS__AUTH__TRUST_PROXY: '1',
    };
    expect(() => loadConfig({ env })).toThrow(/LOOP_OPS_ADMIN_PASSPHRASE/);
    expect(() => loadConfig({ env: { ...env, LOOP_OPS_ADMIN_PASSPHRASE: 'short' } })).toThrow(ConfigError);
    const { config, secrets } = loadConfig({ env: { ...env, LOOP_OPS_ADMIN_PASSPHRASE: 'a long enough passphrase' } });
    expect(secrets.adminPassphrase).toBe('a long enough passphrase');
    expect(config.auth.trustProxy).toBe(1);
    expect(config.auth.oauth.stateFile).toBe('/var/lib/loop-ops/oauth.json');
    expect(JSON.stringify(config)).not.toContain('a long enough passphrase');
  });
});

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newSecret, OAuthStateStore, sha256hex, StateFileError } from '../../../src/auth/store.js';

describe('OAuthStateStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'oauth-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('secrets are prefixed, random, 256 bits', () => {
    const a = newSecret('at');
    expect(a).toMatch(/^lo_at_[A-Za-z0-9_-]{43}$/);
    expect(newSecret('at')).not.toBe(a);
    expect(sha256hex('x')).toHaveLength(64);
  });

  it('saves atomically (0600, no temp left), reloads, prunes expired entries and orphan grants', () => {
    let now = 1_000_000;
    const file = join(dir, 'sub', 'state.json');
    const s = OAuthStateStore.open(file, () => now);
    s.clients.set('c1', { client_id: 'c1', redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none', client_id_issued_at: 0 });
    s.grants.set('g1', { id: 'g1', clientId: 'c1', scopes: ['ops:read'], resource: 'https://x/mcp', createdAt: now, rotated: [] });
    s.grants.set('g2', { id: 'g2', clientId: 'c1', scopes: ['ops:read'], resource: 'https://x/mcp', createdAt: now, rotated: [] });
    s.refreshTokens.set(sha256hex('rt1'), { grantId: 'g1', expiresAt: now + 10_000 });
    s.accessTokens.set(sha256hex('at1'), { grantId: 'g1', expiresAt: now + 1_000 });
    s.save();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['state.json']);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('"rt1"');
    expect(text).not.toContain('g2'); // no live token: pruned
    now += 5_000;
    const r = OAuthStateStore.open(file, () => now);
    expect(r.clients.get('c1')?.redirect_uris).toEqual(['https://claude.ai/api/mcp/auth_callback']);
    expect(r.accessTokens.size).toBe(0); // expired
    expect(r.refreshTokens.has(sha256hex('rt1'))).toBe(true);
    expect(r.grants.has('g1')).toBe(true);
  });

  it('removeClient drops its grants and tokens', () => {
    const s = new OAuthStateStore(join(dir, 's.json'));
    s.clients.set('c1', { client_id: 'c1', redirect_uris: ['https://a/cb'], token_endpoint_auth_method: 'none', client_id_issued_at: 0 });
    s.grants.set('g1', { id: 'g1', clientId: 'c1', scopes: [], resource: 'r', createdAt: 0, rotated: [] });
    s.refreshTokens.set('h', { grantId: 'g1', expiresAt: Date.now() + 1e6 });
    expect(s.removeClient('c1')).toBe(true);
    expect(s.grants.size + s.refreshTokens.size + s.clients.size).toBe(0);
  });

  it('a corrupt or foreign file is an error, not an empty state', () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{nope');
    expect(() => OAuthStateStore.open(file)).toThrow(StateFileError);
    writeFileSync(file, '{"version":99}');
    expect(() => OAuthStateStore.open(file)).toThrow(/unknown format/);
  });
});

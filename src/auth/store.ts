/**
 * OAuth state: registered clients, grants, authorization codes, access and
 * refresh tokens. Tokens and codes are random opaque strings; only their
 * sha256 digests are kept, in memory and on disk.
 *
 * Everything is persisted to one JSON file (`auth.oauth.stateFile`), written
 * atomically (temp file + rename, mode 0600) after every change, so clients,
 * grants and tokens survive a restart and a revocation is durable at once.
 *
 * A *grant* is one consent (client + scopes + resource). Its refresh token
 * rotates on every use; presenting an already-rotated refresh token again is
 * treated as theft and revokes the whole grant (OAuth 2.1 §4.3.1 / BCP).
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { OAuthClientInformationFull } from '@modelcontextprotocol/sdk/shared/auth.js';

export const STATE_VERSION = 1;

export function sha256hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** `lo_at_…`, `lo_rt_…`, `lo_ac_…`: a recognizable prefix (secret scanners) + 256 random bits. */
export function newSecret(prefix: 'at' | 'rt' | 'ac'): string {
  return `lo_${prefix}_${randomBytes(32).toString('base64url')}`;
}

export interface Grant {
  id: string;
  clientId: string;
  scopes: string[];
  resource: string;
  createdAt: number;
  /** Digests of refresh tokens already rotated away (reuse detection), newest last. */
  rotated: string[];
}

export interface CodeRecord {
  clientId: string;
  grantScopes: string[];
  resource: string;
  codeChallenge: string;
  redirectUri: string;
  expiresAt: number;
}

export interface TokenRecord {
  grantId: string;
  expiresAt: number;
  /** Narrower than the grant's scopes (refresh with `scope`); absent = the grant's. */
  scopes?: string[];
}

interface StateFileV1 {
  version: 1;
  clients: Record<string, OAuthClientInformationFull>;
  grants: Record<string, Grant>;
  codes: Record<string, CodeRecord>;
  accessTokens: Record<string, TokenRecord>;
  refreshTokens: Record<string, TokenRecord>;
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

export class OAuthStateStore {
  readonly clients = new Map<string, OAuthClientInformationFull>();
  readonly grants = new Map<string, Grant>();
  readonly codes = new Map<string, CodeRecord>();
  readonly accessTokens = new Map<string, TokenRecord>();
  readonly refreshTokens = new Map<string, TokenRecord>();

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Loads the file if it exists (a missing file is an empty state). */
  static open(file: string, now: () => number = Date.now): OAuthStateStore {
    const store = new OAuthStateStore(file, now);
    if (!existsSync(file)) return store;
    let data: StateFileV1;
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as StateFileV1;
    } catch (e) {
      throw new StateFileError(`cannot read OAuth state file ${file}: ${(e as Error).message}`);
    }
    if (!data || data.version !== STATE_VERSION) throw new StateFileError(`OAuth state file ${file}: unknown format`);
    for (const [k, v] of Object.entries(data.clients ?? {})) store.clients.set(k, v);
    for (const [k, v] of Object.entries(data.grants ?? {})) store.grants.set(k, v);
    for (const [k, v] of Object.entries(data.codes ?? {})) store.codes.set(k, v);
    for (const [k, v] of Object.entries(data.accessTokens ?? {})) store.accessTokens.set(k, v);
    for (const [k, v] of Object.entries(data.refreshTokens ?? {})) store.refreshTokens.set(k, v);
    store.prune();
    return store;
  }

  /** Drops expired codes/tokens, and grants left with no live refresh token. */
  prune(): void {
    const t = this.now();
    for (const [k, v] of this.codes) if (v.expiresAt <= t) this.codes.delete(k);
    for (const [k, v] of this.accessTokens) if (v.expiresAt <= t || !this.grants.has(v.grantId)) this.accessTokens.delete(k);
    for (const [k, v] of this.refreshTokens) if (v.expiresAt <= t || !this.grants.has(v.grantId)) this.refreshTokens.delete(k);
    const live = new Set([...this.refreshTokens.values(), ...this.accessTokens.values()].map((r) => r.grantId));
    for (const id of this.grants.keys()) if (!live.has(id)) this.grants.delete(id);
  }

  /** Atomic write: temp file (0600) in the same directory, then rename. */
  save(): void {
    this.prune();
    const data: StateFileV1 = {
      version: STATE_VERSION,
      clients: Object.fromEntries(this.clients),
      grants: Object.fromEntries(this.grants),
      codes: Object.fromEntries(this.codes),
      accessTokens: Object.fromEntries(this.accessTokens),
      refreshTokens: Object.fromEntries(this.refreshTokens),
    };
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 1)}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }

  grantIsUsed(clientId: string): boolean {
    for (const g of this.grants.values()) if (g.clientId === clientId) return true;
    return false;
  }

  /** Revokes a grant and every token issued under it. */
  revokeGrant(grantId: string): void {
    this.grants.delete(grantId);
    for (const [k, v] of this.accessTokens) if (v.grantId === grantId) this.accessTokens.delete(k);
    for (const [k, v] of this.refreshTokens) if (v.grantId === grantId) this.refreshTokens.delete(k);
  }

  /** Removes a client with all its grants, codes and tokens. */
  removeClient(clientId: string): boolean {
    const had = this.clients.delete(clientId);
    for (const g of [...this.grants.values()]) if (g.clientId === clientId) this.revokeGrant(g.id);
    for (const [k, v] of this.codes) if (v.clientId === clientId) this.codes.delete(k);
    return had;
  }
}

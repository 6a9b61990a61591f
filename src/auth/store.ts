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
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const STATE_VERSION = 2;

export function sha256hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Constant-time check of a presented client secret against its stored digest. */
export function secretMatches(presented: string, digestHex: string): boolean {
  const a = Buffer.from(sha256hex(presented), 'hex');
  const b = Buffer.from(digestHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A client as kept on disk: only the fields this server uses. A registered
 * client's secret is kept as its sha256 (secrets are 256 random bits, so a
 * fast digest is enough); a client known by its metadata document URL has
 * `metadataDocument` set and no secret.
 */
export interface StoredClient {
  client_id: string;
  client_name?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: 'none' | 'client_secret_post';
  client_secret_sha256?: string;
  /** Seconds since the epoch. */
  client_id_issued_at: number;
  metadataDocument?: true;
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

interface StateFileV2 {
  version: 2;
  clients: Record<string, StoredClient>;
  grants: Record<string, Grant>;
  codes: Record<string, CodeRecord>;
  accessTokens: Record<string, TokenRecord>;
  refreshTokens: Record<string, TokenRecord>;
}

/** Version 1 kept the whole registration request, client secret in clear. */
interface ClientV1 {
  client_id: string;
  client_name?: string;
  redirect_uris?: string[];
  token_endpoint_auth_method?: string;
  client_secret?: string;
  client_id_issued_at?: number;
}

function migrateClientV1(c: ClientV1): StoredClient {
  return {
    client_id: c.client_id,
    ...(typeof c.client_name === 'string' ? { client_name: c.client_name.slice(0, 100) } : {}),
    redirect_uris: Array.isArray(c.redirect_uris) ? c.redirect_uris : [],
    token_endpoint_auth_method: c.client_secret ? 'client_secret_post' : 'none',
    ...(c.client_secret ? { client_secret_sha256: sha256hex(c.client_secret) } : {}),
    client_id_issued_at: c.client_id_issued_at ?? 0,
  };
}

/** What identifies one version of the file on disk (a rename makes a new inode). */
function stampOf(file: string): string | null {
  try {
    const st = statSync(file);
    return `${st.ino}:${st.mtimeMs}:${st.size}`;
  } catch {
    return null;
  }
}

export class StateFileError extends Error {
  override name = 'StateFileError';
}

export class OAuthStateStore {
  readonly clients = new Map<string, StoredClient>();
  readonly grants = new Map<string, Grant>();
  readonly codes = new Map<string, CodeRecord>();
  readonly accessTokens = new Map<string, TokenRecord>();
  readonly refreshTokens = new Map<string, TokenRecord>();

  constructor(
    readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The file as this process last read or wrote it (null: no file yet). */
  private stamp: string | null = null;

  /** Loads the file if it exists (a missing file is an empty state). */
  static open(file: string, now: () => number = Date.now): OAuthStateStore {
    const store = new OAuthStateStore(file, now);
    store.load();
    return store;
  }

  private load(): void {
    for (const m of [this.clients, this.grants, this.codes, this.accessTokens, this.refreshTokens]) m.clear();
    const stamp = stampOf(this.file);
    this.stamp = stamp;
    if (stamp === null || !existsSync(this.file)) return;
    let data: StateFileV2 | (Omit<StateFileV2, 'version' | 'clients'> & { version: 1; clients: Record<string, ClientV1> });
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8')) as typeof data;
    } catch (e) {
      throw new StateFileError(`cannot read OAuth state file ${this.file}: ${(e as Error).message}`);
    }
    if (!data || (data.version !== 1 && data.version !== STATE_VERSION)) throw new StateFileError(`OAuth state file ${this.file}: unknown format`);
    for (const [k, v] of Object.entries(data.clients ?? {})) {
      this.clients.set(k, data.version === 1 ? migrateClientV1(v as ClientV1) : (v as StoredClient));
    }
    for (const [k, v] of Object.entries(data.grants ?? {})) this.grants.set(k, v);
    for (const [k, v] of Object.entries(data.codes ?? {})) this.codes.set(k, v);
    for (const [k, v] of Object.entries(data.accessTokens ?? {})) this.accessTokens.set(k, v);
    for (const [k, v] of Object.entries(data.refreshTokens ?? {})) this.refreshTokens.set(k, v);
    this.prune();
    // A version 1 file held client secrets in clear: rewrite it at once.
    if (data.version === 1) this.save();
  }

  /**
   * Picks up a change another process made to the file (the
   * `oauth-clients revoke` command), so a revocation takes effect in the
   * running server at its next request. Cheap: one stat().
   */
  syncFromDisk(): void {
    if (stampOf(this.file) !== this.stamp) this.load();
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

  /**
   * Atomic write: temp file (0600) in the same directory, then rename.
   * With `ifUnchanged`, refuses (returns false) when another process
   * replaced the file since this store read it: the caller reloads and retries.
   */
  save(opts: { ifUnchanged?: boolean } = {}): boolean {
    this.prune();
    const data: StateFileV2 = {
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
    if (opts.ifUnchanged && stampOf(this.file) !== this.stamp) {
      rmSync(tmp, { force: true });
      return false;
    }
    renameSync(tmp, this.file);
    this.stamp = stampOf(this.file);
    return true;
  }

  /** Grants (live consents) of a client. */
  grantsOf(clientId: string): Grant[] {
    return [...this.grants.values()].filter((g) => g.clientId === clientId);
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

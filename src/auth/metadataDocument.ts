/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
 * MCP 2025-11-25): a client names itself by an https URL, and this server
 * fetches the JSON document at that URL to learn its name and redirect URIs,
 * instead of the client registering first.
 *
 * Fetching a URL a stranger chose is a server-side request forgery surface,
 * so the fetch is narrow:
 * - the URL's host must be on the redirect-host allowlist (chatgpt.com,
 *   claude.ai, claude.com, the operator's additions), https, default port;
 * - the name is resolved here and every address must be public (no private,
 *   loopback, link-local, CGNAT, multicast… ranges); the connection goes to
 *   the address checked, so a second DNS answer cannot swap it;
 * - 200 only (redirects are not followed), at most 5 KiB, a few seconds;
 * - results are cached (bounded), failures briefly, concurrent fetches of
 *   one URL shared, at most 4 different documents fetched at once.
 * Loopback documents over http are accepted only when the runtime says so
 * (tests serve their document on 127.0.0.1).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { z } from 'zod';
import { LOOPBACK_HOSTNAMES, type RedirectHostAllowlist } from './allowlist.js';
import type { StoredClient } from './store.js';

export const MAX_DOCUMENT_BYTES = 5 * 1024;
export const MAX_CLIENT_ID_URL_LENGTH = 1_000;
export const MAX_CLIENT_NAME_LENGTH = 100;
export const MAX_REDIRECT_URIS = 5;

export class MetadataDocumentError extends Error {
  override name = 'MetadataDocumentError';
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface MetadataDocumentOptions {
  allowlist: RedirectHostAllowlist;
  /** Accept documents served on loopback (http or https, any port): tests only. */
  allowLoopback?: boolean;
  /** DNS resolution (tests substitute a resolver); default: the system's. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  timeoutMs?: number;
  cacheTtlMs?: number;
  failureTtlMs?: number;
  maxCached?: number;
  /** Different documents fetched at the same time, at most. */
  maxConcurrent?: number;
  now?: () => number;
}

/** Addresses no metadata document may be fetched from. */
const NON_PUBLIC = (() => {
  const b = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const) {
    b.addSubnet(net, bits, 'ipv4');
  }
  for (const [net, bits] of [
    ['::', 127], // :: and ::1
    ['64:ff9b::', 96], // NAT64 of any IPv4
    ['64:ff9b:1::', 48],
    ['100::', 64],
    ['2001::', 23],
    ['2001:db8::', 32],
    ['2002::', 16], // 6to4 of any IPv4
    ['fc00::', 7],
    ['fe80::', 10],
    ['fec0::', 10],
    ['ff00::', 8],
  ] as const) {
    b.addSubnet(net, bits, 'ipv6');
  }
  return b;
})();

/** True for an address on the public internet (IPv4-mapped IPv6 judged by its IPv4). */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPublicAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 4) return !NON_PUBLIC.check(address, 'ipv4');
  if (family === 6) return !/^::ffff:/i.test(address) && !NON_PUBLIC.check(address, 'ipv6');
  return false;
}

function isLoopbackAddress(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

/** A client_id that is meant as a metadata document URL (vs. a registered id). */
export function isUrlClientId(clientId: string): boolean {
  return /^https?:\/\//i.test(clientId);
}

const documentSchema = z.object({
  client_id: z.string(),
  client_name: z.string().max(MAX_CLIENT_NAME_LENGTH).optional(),
  redirect_uris: z.array(z.string()).min(1).max(MAX_REDIRECT_URIS),
  token_endpoint_auth_method: z.literal('none').optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token'])).optional(),
  response_types: z.array(z.literal('code')).optional(),
});

interface CacheEntry {
  client?: StoredClient;
  error?: string;
  expiresAt: number;
}

export class ClientMetadataDocuments {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly fetching = new Map<string, Promise<StoredClient>>();
  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly cacheTtlMs: number;
  private readonly failureTtlMs: number;
  private readonly maxCached: number;
  private readonly maxConcurrent: number;

  constructor(private readonly opts: MetadataDocumentOptions) {
    this.now = opts.now ?? Date.now;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.cacheTtlMs = opts.cacheTtlMs ?? 10 * 60_000;
    this.failureTtlMs = opts.failureTtlMs ?? 30_000;
    this.maxCached = opts.maxCached ?? 100;
    this.maxConcurrent = opts.maxConcurrent ?? 4;
  }

  /** Why this URL cannot be a client_id here, or null. No network. */
  urlProblem(clientId: string): string | null {
    if (clientId.length > MAX_CLIENT_ID_URL_LENGTH) return 'client_id URL too long';
    let url: URL;
    try {
      url = new URL(clientId);
    } catch {
      return 'client_id is not a valid URL';
    }
    if (url.hash || clientId.includes('#')) return 'client_id URL must not have a fragment';
    if (url.username || url.password) return 'client_id URL must not carry credentials';
    if (url.search) return 'client_id URL must not have a query';
    const rawPath = clientId.replace(/^[a-z]+:\/\/[^/]*/i, '');
    if (!rawPath || rawPath === '/') return 'client_id URL must have a path';
    if (rawPath.split('/').some((seg) => seg === '.' || seg === '..')) return 'client_id URL must not have dot segments';
    if (LOOPBACK_HOSTNAMES.has(url.hostname)) {
      if (this.opts.allowLoopback && (url.protocol === 'http:' || url.protocol === 'https:')) return null;
      return 'client_id URL on loopback is not accepted';
    }
    if (!this.opts.allowlist.hasHttpsHost(url)) {
      return `client_id URL host "${url.host}" is not allowed: it must be https on ${this.opts.allowlist.names.join(', ')} (or a host listed in auth.oauth.allowedRedirectHosts)`;
    }
    return null;
  }

  /** The client a metadata document URL describes. Throws MetadataDocumentError. */
  async resolve(clientId: string): Promise<StoredClient> {
    const problem = this.urlProblem(clientId);
    if (problem) throw new MetadataDocumentError(problem);
    const t = this.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.expiresAt > t) {
      if (hit.client) return hit.client;
      throw new MetadataDocumentError(hit.error ?? 'metadata document unavailable');
    }
    const running = this.fetching.get(clientId);
    if (running) return running;
    // Unauthenticated requests trigger these fetches: bound how many run at once.
    if (this.fetching.size >= this.maxConcurrent) throw new MetadataDocumentError('too many metadata documents being fetched at once; try again shortly');
    const p = this.fetchAndCheck(clientId).then(
      (client) => {
        this.remember(clientId, { client, expiresAt: this.now() + this.cacheTtlMs });
        return client;
      },
      (e: unknown) => {
        const msg = e instanceof MetadataDocumentError ? e.message : 'metadata document could not be fetched';
        this.remember(clientId, { error: msg, expiresAt: this.now() + this.failureTtlMs });
        throw new MetadataDocumentError(msg);
      },
    );
    this.fetching.set(clientId, p);
    try {
      return await p;
    } finally {
      this.fetching.delete(clientId);
    }
  }

  private remember(key: string, e: CacheEntry): void {
    this.cache.delete(key);
    this.cache.set(key, e);
    while (this.cache.size > this.maxCached) this.cache.delete(this.cache.keys().next().value as string);
  }

  private async fetchAndCheck(clientId: string): Promise<StoredClient> {
    const url = new URL(clientId);
    const target = await this.checkedAddress(url);
    const body = await this.get(url, target);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new MetadataDocumentError('metadata document is not JSON');
    }
    const parsed = documentSchema.safeParse(json);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new MetadataDocumentError(`metadata document: ${i.path.join('.') || 'document'}: ${i.message}`);
    }
    const doc = parsed.data;
    // Simple string comparison, no normalization (the draft's rule).
    if (doc.client_id !== clientId) throw new MetadataDocumentError('metadata document: its client_id is not the URL it was fetched from');
    for (const r of doc.redirect_uris) {
      const why = this.opts.allowlist.redirectUriProblem(r);
      if (why) throw new MetadataDocumentError(`metadata document: ${why}`);
    }
    return {
      client_id: clientId,
      ...(doc.client_name ? { client_name: doc.client_name } : {}),
      redirect_uris: doc.redirect_uris,
      token_endpoint_auth_method: 'none',
      client_id_issued_at: Math.floor(this.now() / 1000),
      metadataDocument: true,
    };
  }

  /** Resolves the host and checks every address it has; returns the one to connect to. */
  private async checkedAddress(url: URL): Promise<ResolvedAddress> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const loopbackName = LOOPBACK_HOSTNAMES.has(url.hostname);
    let addrs: ResolvedAddress[];
    const literal = isIP(host);
    if (literal) addrs = [{ address: host, family: literal as 4 | 6 }];
    else {
      const lookup = this.opts.resolve
        ? this.opts.resolve(host)
        : dnsLookup(host, { all: true, verbatim: true }).then((list) => list.map((a) => ({ address: a.address, family: a.family as 4 | 6 })));
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MetadataDocumentError(`metadata document host ${host} did not resolve within ${this.timeoutMs} ms`)), this.timeoutMs);
      });
      try {
        addrs = await Promise.race([lookup, late]);
      } catch (e) {
        if (e instanceof MetadataDocumentError) throw e;
        throw new MetadataDocumentError(`metadata document host ${host} does not resolve`);
      } finally {
        clearTimeout(timer);
      }
    }
    if (!addrs.length) throw new MetadataDocumentError(`metadata document host ${host} does not resolve`);
    for (const a of addrs) {
      const ok = loopbackName ? isLoopbackAddress(a.address) : isPublicAddress(a.address);
      if (!ok) throw new MetadataDocumentError(`metadata document host ${host} resolves to a non-public address: refused`);
    }
    return addrs[0]!;
  }

  private get(url: URL, target: ResolvedAddress): Promise<string> {
    // Connect to the address checked above, whatever DNS says now (no rebinding).
    const pinned: LookupFunction = (_host, options, cb) => {
      if ((options as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
      else cb(null, target.address, target.family);
    };
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const fail = (msg: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        reject(new MetadataDocumentError(msg));
      };
      const req = mod.request(
        url,
        {
          method: 'GET',
          lookup: pinned,
          headers: { Accept: 'application/json', 'User-Agent': 'loop-ops-mcp (client metadata document fetch)' },
          agent: false,
        },
        (res) => {
          if (res.statusCode !== 200) return fail(`metadata document answered HTTP ${res.statusCode ?? '?'} (only 200 is accepted; redirects are not followed)`);
          const declared = Number(res.headers['content-length']);
          if (Number.isFinite(declared) && declared > MAX_DOCUMENT_BYTES) return fail(`metadata document larger than ${MAX_DOCUMENT_BYTES} bytes`);
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_DOCUMENT_BYTES) return fail(`metadata document larger than ${MAX_DOCUMENT_BYTES} bytes`);
            chunks.push(c);
          });
          res.on('end', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(Buffer.concat(chunks).toString('utf8'));
          });
          res.on('error', () => fail('metadata document fetch failed'));
        },
      );
      const timer = setTimeout(() => fail(`metadata document not received within ${this.timeoutMs} ms`), this.timeoutMs);
      req.on('error', () => fail('metadata document fetch failed'));
      req.end();
    });
  }
}

/**
 * Operator actions on the OAuth state file, for the `oauth-clients` command:
 * list the clients with their live consents, revoke one. The running server
 * notices the changed file at its next request (OAuthStateStore.syncFromDisk),
 * so a revocation ends that client's access without a restart.
 */
import { OAuthStateStore, type StoredClient } from './store.js';

export interface ClientSummary {
  client_id: string;
  client_name: string | null;
  /** How the client is known: it registered (RFC 7591), or by its metadata document URL. */
  kind: 'registered' | 'metadata-document';
  confidential: boolean;
  redirect_uris: string[];
  registered_at: string;
  /** Live consents (grants with a token still valid). */
  grants: number;
  /** Scopes of those consents together. */
  scopes: string[];
  last_consent_at: string | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

function summary(store: OAuthStateStore, c: StoredClient): ClientSummary {
  const grants = store.grantsOf(c.client_id);
  const scopes = [...new Set(grants.flatMap((g) => g.scopes))].sort();
  const last = grants.reduce((m, g) => Math.max(m, g.createdAt), 0);
  return {
    client_id: c.client_id,
    client_name: c.client_name ?? null,
    kind: c.metadataDocument ? 'metadata-document' : 'registered',
    confidential: Boolean(c.client_secret_sha256),
    redirect_uris: c.redirect_uris,
    registered_at: iso(c.client_id_issued_at * 1000),
    grants: grants.length,
    scopes,
    last_consent_at: last ? iso(last) : null,
  };
}

/** Clients in the state file, newest first. */
export function listClients(stateFile: string): ClientSummary[] {
  const store = OAuthStateStore.open(stateFile);
  return [...store.clients.values()].map((c) => summary(store, c)).sort((a, b) => b.registered_at.localeCompare(a.registered_at));
}

/**
 * Removes a client with its grants, codes and tokens. The write is a
 * compare-and-swap on the file (retried if the server wrote meanwhile), so
 * neither side's change is lost to the other.
 */
export function revokeClientInFile(stateFile: string, clientId: string): { revoked: ClientSummary | null } {
  for (let attempt = 0; attempt < 10; attempt++) {
    const store = OAuthStateStore.open(stateFile);
    const c = store.clients.get(clientId);
    if (!c) return { revoked: null };
    const before = summary(store, c);
    store.removeClient(clientId);
    if (store.save({ ifUnchanged: true })) return { revoked: before };
  }
  throw new Error(`the OAuth state file ${stateFile} keeps changing: try again`);
}

/**
 * Host key verification. ssh2 accepts any host key unless told otherwise, so
 * the pool always installs one of these verifiers: a pinned OpenSSH
 * fingerprint, a known_hosts file, or (first setup only) accept-and-log.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** `SHA256:` + unpadded base64 of sha256(key blob), exactly as `ssh-keygen -lf` prints. */
export function fingerprintOf(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** Key type name stored at the start of an SSH public key blob. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) return 'unknown';
  const len = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + len).toString('latin1');
}

interface KnownHostEntry {
  hosts: string; // comma list, or |1|salt|hash
  keyType: string;
  key: Buffer;
  revoked: boolean;
}

function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    let revoked = false;
    if (parts[0]?.startsWith('@')) {
      // @cert-authority lines are not supported: ignore them; @revoked keys are refused.
      if (parts[0] !== '@revoked') continue;
      revoked = true;
      parts.shift();
    }
    const [hosts, keyType, b64] = parts;
    if (!hosts || !keyType || !b64) continue;
    out.push({ hosts, keyType, key: Buffer.from(b64, 'base64'), revoked });
  }
  return out;
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function hostMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return h === hash;
  }
  return pattern.split(',').some((p) => {
    if (p.startsWith('!')) return false;
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    return re.test(name);
  });
}

export type HostKeyPolicy =
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'knownHosts'; path: string }
  | { kind: 'acceptAny' };

export interface HostKeyVerdict {
  ok: boolean;
  fingerprint: string;
  reason?: string;
}

/** Checks a presented host key against the policy. Pure apart from reading known_hosts. */
export function verifyHostKey(policy: HostKeyPolicy, host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
  const fingerprint = fingerprintOf(keyBlob);
  switch (policy.kind) {
    case 'acceptAny':
      return { ok: true, fingerprint };
    case 'fingerprint':
      return policy.fingerprint === fingerprint
        ? { ok: true, fingerprint }
        : {
            ok: false,
            fingerprint,
            reason: `host key mismatch for ${host}:${port}: the server presented ${keyTypeOf(keyBlob)} ${fingerprint}, but ${policy.fingerprint} is pinned. If the NAS key really changed, verify it on the NAS (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and update nas.hostKeyFingerprint.`,
          };
    case 'knownHosts': {
      let entries: KnownHostEntry[];
      try {
        entries = parseKnownHosts(readFileSync(policy.path, 'utf8'));
      } catch (e) {
        return { ok: false, fingerprint, reason: `cannot read known_hosts ${policy.path} (${(e as NodeJS.ErrnoException).code})` };
      }
      const name = knownHostsName(host, port);
      const forHost = entries.filter((e) => hostMatches(e.hosts, name));
      if (forHost.some((e) => e.revoked && e.key.equals(keyBlob))) {
        return { ok: false, fingerprint, reason: `host key ${fingerprint} of ${name} is marked @revoked in ${policy.path}` };
      }
      if (forHost.some((e) => !e.revoked && e.key.equals(keyBlob))) return { ok: true, fingerprint };
      return {
        ok: false,
        fingerprint,
        reason: forHost.length
          ? `host key mismatch for ${name}: the server presented ${keyTypeOf(keyBlob)} ${fingerprint}, which is not the key recorded in ${policy.path}`
          : `host ${name} is not in ${policy.path}; the server presented ${keyTypeOf(keyBlob)} ${fingerprint}`,
      };
    }
  }
}

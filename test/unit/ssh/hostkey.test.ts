import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { utils } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { fingerprintOf, keyTypeOf, knownHostsName, verifyHostKey } from '../../../src/ssh/hostkey.js';

function newKeyBlob(): { blob: Buffer; line: string } {
  const { public: pub } = utils.generateKeyPairSync('ed25519');
  const [type, b64] = pub.trim().split(' ');
  return { blob: Buffer.from(b64!, 'base64'), line: `${type} ${b64}` };
}

const hasSshKeygen = (() => {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined && (e as { code?: string }).code !== 'ENOENT';
  }
})();

describe('host key fingerprints', () => {
  it.skipIf(!hasSshKeygen)('match what ssh-keygen -lf prints', () => {
    const { blob, line } = newKeyBlob();
    const dir = mkdtempSync(join(tmpdir(), 'hk-'));
    writeFileSync(join(dir, 'k.pub'), `${line} test\n`);
    const out = execFileSync('ssh-keygen', ['-lf', join(dir, 'k.pub')], { encoding: 'utf8' });
    expect(out.split(' ')[1]).toBe(fingerprintOf(blob));
  });

  it('has the documented shape and names the key type', () => {
    const { blob } = newKeyBlob();
    expect(fingerprintOf(blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });
});

describe('verifyHostKey', () => {
  const a = newKeyBlob();
  const b = newKeyBlob();

  it('accepts the pinned fingerprint and refuses another, naming what it saw', () => {
    expect(verifyHostKey({ kind: 'fingerprint', fingerprint: fingerprintOf(a.blob) }, 'nas', 22, a.blob).ok).toBe(true);
    const v = verifyHostKey({ kind: 'fingerprint', fingerprint: fingerprintOf(a.blob) }, 'nas', 22, b.blob);
    expect(v.ok).toBe(false);
    expect(v.reason).toContain(fingerprintOf(b.blob));
    expect(v.reason).toContain('mismatch');
  });

  it('reads known_hosts: plain, bracketed port, hashed, revoked, unknown host', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kh-'));
    const salt = randomBytes(20);
    const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('hashed.example').digest('base64')}`;
    const file = join(dir, 'known_hosts');
    writeFileSync(
      file,
      [
        '# comment',
        `nas.local,10.0.0.5 ${a.line}`,
        `[127.0.0.1]:2222 ${a.line}`,
        `${hashed} ${a.line}`,
        `@revoked [127.0.0.1]:2223 ${b.line}`,
        `@cert-authority * ${b.line}`,
      ].join('\n'),
    );
    const kh = { kind: 'knownHosts' as const, path: file };
    expect(verifyHostKey(kh, 'nas.local', 22, a.blob).ok).toBe(true);
    expect(verifyHostKey(kh, '127.0.0.1', 2222, a.blob).ok).toBe(true);
    expect(verifyHostKey(kh, 'hashed.example', 22, a.blob).ok).toBe(true);
    expect(verifyHostKey(kh, '127.0.0.1', 2222, b.blob).reason).toContain('mismatch');
    expect(verifyHostKey(kh, '127.0.0.1', 2223, b.blob).reason).toContain('@revoked');
    expect(verifyHostKey(kh, 'other', 22, a.blob).reason).toContain('not in');
    expect(verifyHostKey(kh, '127.0.0.1', 22, a.blob).ok).toBe(false); // port matters
    expect(verifyHostKey({ kind: 'knownHosts', path: join(dir, 'missing') }, 'nas', 22, a.blob).ok).toBe(false);
  });

  it('names hosts the way known_hosts does', () => {
    expect(knownHostsName('nas', 22)).toBe('nas');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });
});

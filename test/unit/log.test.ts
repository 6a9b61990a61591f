import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubberFor, SecretScrubber } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, destination };
}

describe('logger redaction', () => {
  it('redacts secret fields at any of the first levels', () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination, level: 'info' });
    log.info({ password: 'p1', args: { token: 't2', nested: { passphrase: 'p3' } }, headers: { authorization: 'Bearer t4' } }, 'x');
    const text = lines.join('');
    for (const s of ['p1', 't2', 'p3', 'Bearer t4']) expect(text).not.toContain(s);
    expect(text).toContain('[redacted]');
  });
});

describe('SecretScrubber', () => {
  it('removes secret values from free text, longest first', () => {
    const s = new SecretScrubber(['hunter2', 'hunter2-long', undefined, 'ab']);
    expect(s.scrub('pw=hunter2-long and hunter2; ab stays')).toBe('pw=[redacted] and [redacted]; ab stays');
  });
});

describe('scrubberFor', () => {
  it('covers every secret the config resolved, whatever its name', () => {
    const s = scrubberFor({ sudoPassword: 'sudo-secret-1', sshPassword: 'ssh-secret-2', adminPassphrase: 'admin-secret-3', apiToken: undefined });
    expect(s.scrub('a sudo-secret-1 b ssh-secret-2 c admin-secret-3')).toBe('a [redacted] b [redacted] c [redacted]');
  });
});

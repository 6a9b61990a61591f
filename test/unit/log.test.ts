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

describe('scrubberFor with webhook URLs', () => {
  it('scrubs the URL, its token path segments and query values, not ordinary words', () => {
    const s = scrubberFor({
      webhookUrls: ['https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx', 'https://ntfy.sh/loop-alerts-7f3k9q', 'https://example.com/hook?token=tok-123456&x=1'],
    });
    const text = [
      'POST https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx failed',
      'token abcdefghijklmnopqrstuvwx and team T0AAAAAAA',
      'topic loop-alerts-7f3k9q',
      'query tok-123456',
      'the services of hooks.slack.com stay readable',
    ].join('\n');
    const out = s.scrub(text);
    for (const secret of ['abcdefghijklmnopqrstuvwx', 'T0AAAAAAA', 'B0BBBBBBB', 'loop-alerts-7f3k9q', 'tok-123456']) expect(out).not.toContain(secret);
    expect(out).toContain('the services of hooks.slack.com stay readable');
  });
});

describe('webhook URL helpers', () => {
  it('displayUrl keeps the origin only', async () => {
    const { displayUrl, urlSecrets } = await import('../../src/notify/url.js');
    expect(displayUrl('https://discord.com/api/webhooks/123456789/secretToken_abc')).toBe('https://discord.com/…');
    expect(displayUrl('not a url')).toBe('(invalid URL)');
    expect(urlSecrets('https://user:pa55word@example.com/api/webhooks/123456789/tok?key=v4lue')).toEqual(
      expect.arrayContaining(['123456789', 'pa55word', 'v4lue', 'key=v4lue']),
    );
    expect(urlSecrets('https://discord.com/api/webhooks/123456789/x')).not.toContain('webhooks');
    // Plain words in the middle of a path are names, not tokens: scrubbing them would garble every log.
    const plain = urlSecrets('https://example.com/webhooks/deployments/Zx81kq2w');
    expect(plain).toContain('Zx81kq2w');
    expect(plain).not.toContain('deployments');
  });
});

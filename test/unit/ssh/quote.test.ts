import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quoteArgv, shellQuote, UnsafeArgumentError } from '../../../src/ssh/quote.js';

/** Runs a command line through a real POSIX shell and returns the argv it saw. */
function argvSeenBySh(line: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `${line}`], { encoding: 'utf8' });
  return JSON.parse(out) as string[];
}

const printArgv = `node -e 'process.stdout.write(JSON.stringify(process.argv.slice(1)))' --`;

describe('shellQuote', () => {
  it('leaves plain words alone and quotes everything else', () => {
    expect(shellQuote('loop-api-blue')).toBe('loop-api-blue');
    expect(shellQuote('/usr/bin/docker')).toBe('/usr/bin/docker');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it('rejects NUL bytes instead of truncating', () => {
    expect(() => shellQuote('a\0b')).toThrow(UnsafeArgumentError);
    expect(() => quoteArgv([])).toThrow(UnsafeArgumentError);
  });

  const hostile = [
    "'; rm -rf / #",
    '$(touch /tmp/pwned)',
    '`id`',
    'a; echo injected',
    'line1\nline2',
    '"double" and \\backslash\\',
    '$HOME ${PATH} $((1+1))',
    '* ? [a-z] ~root',
    '| & > < 2>&1',
    'üñíçødé ✓ 日本',
    "'",
    "''''",
    '-n',
    '--help',
  ];
  it.each(hostile)('passes %j through a real shell as one literal argument', (s) => {
    expect(argvSeenBySh(`${printArgv} ${shellQuote(s)}`)).toEqual([s]);
  });

  it('quotes a whole argv so each element arrives intact', () => {
    expect(argvSeenBySh(`${printArgv} ${quoteArgv(hostile)}`)).toEqual(hostile);
  });
});

import { describe, expect, it } from 'vitest';
import { compileGrep, filterLines, GrepTooSlowError, MAX_PROGRAM_SIZE } from '../../../src/ops/grep.js';
import { CATASTROPHIC } from '../../helpers/catastrophic.js';


describe('compileGrep', () => {
  it.each(CATASTROPHIC)('$pattern is linear: answers $matches on its killer line', ({ pattern, line, matches }) => {
    expect(compileGrep(pattern, true)(line)).toBe(matches);
  });

  it('is case-insensitive, in both modes, and finds ordinary patterns', () => {
    expect(compileGrep('ERROR', false)('an error here')).toBe(true);
    expect(compileGrep('status=5\\d\\d', true)('GET / STATUS=503 in 3ms')).toBe(true);
    expect(compileGrep('status=5\\d\\d', true)('GET / status=200')).toBe(false);
    expect(compileGrep('^\\d{4}-\\d\\d-\\d\\dT.*(warn|error)', true)('2026-12-06T03:00:00Z Warn: slow')).toBe(true);
  });

  it('refuses what RE2 cannot do, or what would cost too much per line, with a clear message', () => {
    expect(() => compileGrep('(a)\\1', true)).toThrow(/backreferences are not allowed/);
    expect(() => compileGrep('a(?=b)', true)).toThrow(/invalid regex .*lookaround/);
    expect(() => compileGrep('([', true)).toThrow(/invalid regex/);
    expect(() => compileGrep('(.*){1000}#', true)).toThrow(new RegExp(`regex too complex .*max ${MAX_PROGRAM_SIZE}`));
    expect(() => compileGrep('x'.repeat(201), true)).toThrow(/regex too long/);
  });

  it('plain text is not a regex', () => {
    expect(compileGrep('(a+)+', false)('x (A+)+ y')).toBe(true);
    expect(compileGrep('a.c', false)('abc')).toBe(false);
  });
});

describe('filterLines', () => {
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i}${i % 7 === 0 ? ' ERROR' : ''}`);

  it('keeps the matching lines in order', async () => {
    const out = await filterLines(lines, (l) => l, compileGrep('error$', true));
    expect(out).toEqual(lines.filter((_, i) => i % 7 === 0));
  });

  it('gives the event loop a turn between slices', async () => {
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    // A test that burns work per line, so the grep spans many slices.
    const slow = (s: string) => {
      const until = performance.now() + 0.05;
      while (performance.now() < until);
      return s.endsWith('ERROR');
    };
    const out = await filterLines(lines.slice(0, 1000), (l) => l, slow, { sliceMs: 2 });
    clearInterval(tick);
    expect(out.length).toBe(143);
    expect(turns).toBeGreaterThan(0);
  });

  it('past its budget fails with "pattern too slow"', async () => {
    await expect(filterLines(lines, (l) => l, () => false, { budgetMs: 0, sliceMs: 0 })).rejects.toThrow(GrepTooSlowError);
    await expect(filterLines(lines, (l) => l, () => false, { budgetMs: 0, sliceMs: 0 })).rejects.toThrow(/pattern too slow/);
  });

  it('stops when the call is cancelled', async () => {
    const ac = new AbortController();
    ac.abort(new Error('cancelled by the client'));
    await expect(filterLines(lines, (l) => l, () => false, { signal: ac.signal, sliceMs: 0 })).rejects.toThrow(/cancelled by the client/);
  });
});

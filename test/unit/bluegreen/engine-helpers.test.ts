import { describe, expect, it } from 'vitest';
import { cleanVersion, imageTag, newOperationId } from '../../../src/bluegreen/engine.js';
import { assertImage } from '../../../src/docker/requests.js';
import { capNewest, parseSince } from '../../../src/ops/logs.js';

describe('engine helpers', () => {
  const at = new Date('2026-11-21T10:11:12.345Z');
  it('makes immutable, valid image tags from time and commit', () => {
    const tag = imageTag('loop-api', at, '63d01e5abcdef0123456789');
    expect(tag).toBe('loop-api:20261121101112-63d01e5');
    expect(assertImage(tag)).toBe(tag);
  });
  it('makes operation ids that are label- and path-safe', () => {
    expect(newOperationId('deploy', at)).toMatch(/^deploy-20261121-101112-[0-9a-f]{4}$/);
  });
  it('cleans a VERSION file into a label value', () => {
    expect(cleanVersion('1.2.3\n')).toBe('1.2.3');
    expect(cleanVersion(' v2.0.0-rc.1+build.5 \nsecond line')).toBe('v2.0.0-rc.1+build.5');
    expect(cleanVersion('$(reboot); "x"')).toBe('rebootx');
    expect(cleanVersion('\n')).toBe('unknown');
  });
});

describe('logs helpers', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');
  it('parses relative and absolute since', () => {
    expect(parseSince('10m', now)).toBe(now / 1000 - 600);
    expect(parseSince('2h', now)).toBe(now / 1000 - 7200);
    expect(parseSince('2026-11-21T11:00:00Z', now)).toBe(now / 1000 - 3600);
    expect(() => parseSince('yesterday', now)).toThrow(/since/);
  });
  it('keeps the newest lines within the byte cap', () => {
    const lines = ['aaaa', 'bbbb', 'cccc'].map((text) => ({ stream: 'stdout' as const, text }));
    expect(capNewest(lines, 10)).toEqual({ kept: lines.slice(1), cutLines: 1, cutBytes: 5 });
    expect(capNewest(lines, 100).cutLines).toBe(0);
  });
});

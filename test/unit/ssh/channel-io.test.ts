import { describe, expect, it } from 'vitest';
import { BoundedBuffer, LineSplitter } from '../../../src/ssh/channel-io.js';

describe('BoundedBuffer', () => {
  it('keeps the head up to the cap', () => {
    const b = new BoundedBuffer(5, 'head');
    b.push(Buffer.from('abc'));
    b.push(Buffer.from('defgh'));
    expect(b.toBuffer().toString()).toBe('abcde');
    expect(b.truncated).toBe(true);
    expect(b.total).toBe(8);
  });
  it('keeps the tail up to the cap', () => {
    const b = new BoundedBuffer(5, 'tail');
    for (const s of ['abc', 'defgh', 'ij']) b.push(Buffer.from(s));
    expect(b.toBuffer().toString()).toBe('fghij');
    expect(b.truncated).toBe(true);
  });
  it('is not truncated under the cap', () => {
    const b = new BoundedBuffer(10, 'tail');
    b.push(Buffer.from('abc'));
    expect(b.truncated).toBe(false);
  });
});

describe('LineSplitter', () => {
  it('splits across chunks, strips CR, keeps multi-byte characters whole, flushes the last line', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('one\r\ntw✓o\nthr');
    s.push(bytes.subarray(0, 7)); // cuts inside the 3-byte ✓
    s.push(bytes.subarray(7));
    s.push(Buffer.from('ee'));
    s.end();
    expect(lines).toEqual(['one', 'tw✓o', 'three']);
  });
});

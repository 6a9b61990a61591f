import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter, splitBoundedLines } from '../../src/line-splitter.js';

describe('LineSplitter (bounded)', () => {
  it('splits across chunks, strips CR before LF, keeps multi-byte characters whole, flushes the last line', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('one\r\ntw✓o\n\nthr');
    s.push(bytes.subarray(0, 7)); // cuts inside the 3-byte ✓
    s.push(bytes.subarray(7));
    s.push('ee');
    s.end();
    expect(lines).toEqual(['one', 'tw✓o', '', 'three']);
  });

  it('8 MiB without a newline: holds at most the cap, delivers one cut line with the exact count, then goes on', () => {
    const got: Array<{ text: string; truncated: boolean; cutBytes: number }> = [];
    const s = new LineSplitter((text, info) => got.push({ text, ...info }));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const chunks = 128; // 8 MiB
    let maxPending = 0;
    s.push('before\n');
    for (let i = 0; i < chunks; i++) {
      s.push(chunk);
      maxPending = Math.max(maxPending, s.pendingBytes);
    }
    s.push('\nafter\nta');
    s.push('il');
    s.end();
    expect(maxPending).toBe(DEFAULT_MAX_LINE_BYTES);
    expect(got.map((l) => l.truncated)).toEqual([false, true, false, false]);
    expect(got[0]!.text).toBe('before');
    const big = got[1]!;
    expect(big.cutBytes).toBe(chunks * chunk.length - DEFAULT_MAX_LINE_BYTES);
    expect(big.text).toBe(`${'x'.repeat(DEFAULT_MAX_LINE_BYTES)} … [${big.cutBytes} bytes cut]`);
    expect(got.slice(2).map((l) => l.text)).toEqual(['after', 'tail']);
    expect(s.pendingBytes).toBe(0);
  });

  it('a giant line that arrives one byte-ish chunk at a time costs the same: still one cut line', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), { maxLineBytes: 100, marker: (n) => `[+${n}]` });
    for (let i = 0; i < 50_000; i++) s.push('ab');
    s.end();
    expect(lines).toEqual([`${'ab'.repeat(50)}[+99900]`]);
  });

  it('never cuts inside a UTF-8 character', () => {
    // 'é' is 2 bytes: a cap of 17 bytes keeps 8 of them (16 bytes), not 8.5.
    const [line] = splitBoundedLines(`${'é'.repeat(20)}\n`, { maxLineBytes: 17, marker: (n) => `|${n}` });
    expect(line).toBe(`${'é'.repeat(8)}|24`);
    const [emoji] = splitBoundedLines('ab😀😀\n', { maxLineBytes: 16 });
    expect(emoji).toBe('ab😀😀');
    const [cutEmoji] = splitBoundedLines(`${'a'.repeat(14)}😀tail\n`, { maxLineBytes: 16, marker: (n) => `|${n}` });
    expect(cutEmoji).toBe(`${'a'.repeat(14)}|8`);
  });

  it('matches a plain split on ordinary text', () => {
    const text = Array.from({ length: 500 }, (_, i) => `line ${i} ${'·'.repeat(i % 37)}`).join('\n');
    expect(splitBoundedLines(text)).toEqual(text.split('\n'));
  });
});

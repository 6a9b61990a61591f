import { describe, expect, it } from 'vitest';
import {
  appendHistoryArgv,
  HISTORY_KEEP_LINES,
  HISTORY_LINE_MAX_BYTES,
  HISTORY_MAX_LINES,
  historyLine,
  parseHistory,
  parseJournal,
  serializeJournal,
} from '../../../src/bluegreen/journal.js';
import type { HistoryRecord, JournalEntry } from '../../../src/bluegreen/types.js';

const dir = '/volume1/docker/loop-ops';

const rec = (over: Partial<HistoryRecord> = {}): HistoryRecord => ({
  id: 'd-20261121-1',
  kind: 'deploy',
  fromColor: 'blue',
  toColor: 'green',
  image: 'loop-api:1.1.0-abc123',
  version: '1.1.0',
  commit: 'abc123',
  who: 'token:ab12',
  startedAt: '2026-11-21T10:00:00.000Z',
  endedAt: '2026-11-21T10:01:00.000Z',
  outcome: 'succeeded',
  message: 'live on green',
  ...over,
});

const entry: JournalEntry = {
  operationId: 'd-1',
  kind: 'deploy',
  phase: 'switch',
  startedAt: '2026-11-21T10:00:00.000Z',
  updatedAt: '2026-11-21T10:00:30.000Z',
  finished: false,
  detail: { fromColor: 'blue', toColor: 'green' },
};

describe('journal records', () => {
  it('round-trip', () => {
    expect(parseJournal(serializeJournal(entry))).toEqual(entry);
  });
  it('a torn or foreign journal is undefined, not an error', () => {
    const text = serializeJournal(entry);
    expect(parseJournal(text.slice(0, text.length / 2))).toBeUndefined();
    expect(parseJournal('{"operationId":"x"}')).toBeUndefined();
    expect(parseJournal('[]')).toBeUndefined();
    expect(parseJournal('')).toBeUndefined();
    expect(parseJournal(undefined)).toBeUndefined();
  });
});

describe('history lines', () => {
  it('a normal record is its JSON, one line, unchanged', () => {
    const line = historyLine(rec());
    expect(JSON.parse(line)).toEqual(rec());
    expect(line).not.toContain('\n');
  });
  it('a newline in the message stays escaped inside one line', () => {
    const line = historyLine(rec({ message: 'a\nb\r\nc' }));
    expect(line.split('\n')).toHaveLength(1);
    expect(JSON.parse(line).message).toBe('a\nb\r\nc');
  });
  it('a long message is truncated to fit under the limit; other fields stay intact', () => {
    const long = rec({ message: 'x'.repeat(10_000) });
    const line = historyLine(long);
    expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(HISTORY_LINE_MAX_BYTES);
    const parsed = JSON.parse(line) as HistoryRecord;
    expect(parsed.message).toMatch(/^x+…\[truncated\]$/);
    expect(parsed.message!.length).toBeGreaterThan(3000);
    expect({ ...parsed, message: null }).toEqual({ ...long, message: null });
  });
  it('truncates by bytes, not characters, without splitting a character', () => {
    for (const ch of ['é', '€', '😀', '"', '\u0001']) {
      const line = historyLine(rec({ message: ch.repeat(5_000) }));
      expect(Buffer.byteLength(line) + 1, ch).toBeLessThanOrEqual(HISTORY_LINE_MAX_BYTES);
      const m = (JSON.parse(line) as HistoryRecord).message!;
      expect(m.endsWith('…[truncated]')).toBe(true);
      expect(m).not.toContain('\uFFFD');
      expect(m.length).toBeGreaterThan(100);
    }
  });
  it('absurdly long other fields are capped too', () => {
    const line = historyLine(rec({ image: 'i'.repeat(5_000), message: null }));
    expect(Buffer.byteLength(line) + 1).toBeLessThanOrEqual(HISTORY_LINE_MAX_BYTES);
    expect((JSON.parse(line) as HistoryRecord).image).toMatch(/…\[truncated\]$/);
  });
  it('parse newest first, at most limit, skipping torn lines', () => {
    const text = [1, 2, 3].map((i) => historyLine(rec({ id: `d-${i}` }))).join('\n') + '\n{"id":"d-4","ki';
    expect(parseHistory(text, 10).map((h) => h.id)).toEqual(['d-3', 'd-2', 'd-1']);
    expect(parseHistory(text, 2).map((h) => h.id)).toEqual(['d-3', 'd-2']);
    expect(parseHistory('{"foo":1}\n', 10)).toEqual([]);
    expect(parseHistory(undefined, 10)).toEqual([]);
  });
});

describe('history append command', () => {
  it('one printf of "$1" with a newline, appended to the computed file; data only as args', () => {
    const line = historyLine(rec());
    const argv = appendHistoryArgv(dir, line);
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv[2]).toContain('printf "%s\\n" "$1" >> "$2"');
    expect(argv[2]).not.toContain(dir);
    expect(argv.slice(3)).toEqual(['sh', line, `${dir}/history.jsonl`, String(HISTORY_MAX_LINES), String(HISTORY_KEEP_LINES), dir]);
    expect(argv[2]).toMatch(/tail -n "\$4" "\$2" > "\$t" && mv -f "\$t" "\$2"/);
  });
  it('refuses a line that would not be appended by one write', () => {
    expect(() => appendHistoryArgv(dir, 'x'.repeat(HISTORY_LINE_MAX_BYTES))).toThrow();
    expect(() => appendHistoryArgv(dir, 'a\nb')).toThrow();
  });
});

import { describe, expect, it } from 'vitest';
import { HISTORY_KEEP_LINES, HISTORY_LINE_MAX_BYTES, HISTORY_MAX_LINES, historyLine, type HistoryRecord } from '../../../src/domain/index.js';
import { appendHistoryArgv } from '../../../src/bluegreen/journal.js';

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

import { describe, expect, it } from 'vitest';
import { removePreviousStop } from '../../../src/bluegreen/commands.js';
import { scheduleFor } from '../../../src/bluegreen/previous-color.js';
import {
  HISTORY_LINE_MAX_BYTES,
  historyLine,
  parseHistory,
  parseJournal,
  parseJson,
  parseJsonLines,
  parseLockDetails,
  parsePreviousStop,
  parseUpstream,
  previousStopFile,
  renderUpstream,
  serializeJournal,
  serializeLockDetails,
  upstreamPrevFile,
  type HistoryRecord,
  type JournalEntry,
  type LockDetails,
  type PreviousStop,
} from '../../../src/domain/index.js';

const ports = { blue: 18081, green: 18082 };

describe('upstream file', () => {
  it('round-trips: what we render parses back to the same color', () => {
    const text = renderUpstream({ app: 'loop-api', color: 'green', ports, deploymentId: 'd-20261121-1', at: new Date(0) });
    expect(parseUpstream(text, ports)).toEqual({ color: 'green', servers: ['127.0.0.1:18082'], deploymentId: 'd-20261121-1' });
  });
  it('reads a hand-written file; ignores comments, backup and down servers', () => {
    const text = '# server 127.0.0.1:18082;\nserver 127.0.0.1:18081 max_fails=1;\nserver 127.0.0.1:18082 backup;\n';
    expect(parseUpstream(text, ports).color).toBe('blue');
  });
  it('reports no color when the file names both or neither', () => {
    expect(parseUpstream('server 127.0.0.1:18081;\nserver 127.0.0.1:18082;', ports).color).toBeUndefined();
    expect(parseUpstream('server 10.0.0.1:9999;', ports)).toMatchObject({ color: undefined, servers: ['10.0.0.1:9999'] });
    expect(parseUpstream('', ports).color).toBeUndefined();
  });
});

describe('NAS state parsers', () => {
  it('skip a torn last line of the history instead of failing', () => {
    expect(parseJsonLines<{ id: number }>('{"id":1}\n{"id":2}\n{"to').map((h) => h.id)).toEqual([1, 2]);
    expect(parseJsonLines(undefined)).toEqual([]);
  });
  it('parse JSON or give undefined', () => {
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseJson('{"a":')).toBeUndefined();
    expect(parseJson(undefined)).toBeUndefined();
  });
});

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

const details: LockDetails = {
  operationId: 'op-1',
  operation: 'deploy',
  holder: 'token:ab12',
  since: '2026-11-21T10:00:00.000Z',
  host: 'mcp-host',
  pid: 4242,
};

describe('lock details', () => {
  it('serialise to one JSON line and parse back', () => {
    const text = serializeLockDetails(details);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd()).not.toContain('\n');
    expect(parseLockDetails(text)).toEqual(details);
  });
  it('torn or foreign details parse to undefined', () => {
    expect(parseLockDetails('{"operationId":"op-1","oper')).toBeUndefined();
    expect(parseLockDetails('{"a":1}')).toBeUndefined();
    expect(parseLockDetails('null')).toBeUndefined();
    expect(parseLockDetails(undefined)).toBeUndefined();
  });
});

const now = new Date('2026-12-06T03:00:00.000Z');
const previousStop: PreviousStop = scheduleFor({ container: 'loop-api-blue', color: 'blue', deploymentId: 'deploy-1', minutes: 30, setBy: 'deploy-2', now });

describe('previous-stop file', () => {
  it('reads its NAS file tolerantly', () => {
    expect(parsePreviousStop(JSON.stringify(previousStop))).toEqual(previousStop);
    expect(parsePreviousStop('{"container":"x","color":"red","stopAt":"2026-12-06T03:30:00Z"}')).toBeUndefined();
    expect(parsePreviousStop('{"container":"x","color":"blue","stopAt":"soon"}')).toBeUndefined();
    expect(parsePreviousStop('{"contai')).toBeUndefined();
    expect(parsePreviousStop(undefined)).toBeUndefined();
  });
  it('keeps its file in the state dir', () => {
    expect(previousStopFile('/volume1/docker/loop-ops')).toBe('/volume1/docker/loop-ops/previous-stop.json');
    expect(removePreviousStop('/volume1/docker/loop-ops')).toEqual({ argv: ['rm', '-f', '--', '/volume1/docker/loop-ops/previous-stop.json'], sudo: false, timeoutMs: 15_000 });
    expect(() => previousStopFile('/')).toThrow();
  });
});

describe('state paths', () => {
  it('upstream.prev lives in the state dir', () => {
    expect(upstreamPrevFile('/volume1/docker/loop-ops')).toBe('/volume1/docker/loop-ops/upstream.prev');
    expect(() => upstreamPrevFile('relative')).toThrow();
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PreviousColorWatch, type WatchCheck } from '../../../src/bluegreen/previous-watch.js';
import { createLogger } from '../../../src/log.js';

const log = createLogger({ level: 'silent', pretty: false });

describe('the previous color watch (timer of timed retention)', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2026-12-06T03:00:00.000Z') }));
  afterEach(() => vi.useRealTimers());

  const watch = (answers: Array<WatchCheck | Error>, due?: string) => {
    const calls: number[] = [];
    const w = new PreviousColorWatch(
      log,
      async () => {
        calls.push(Date.now());
        const a = answers.shift() ?? {};
        if (a instanceof Error) throw a;
        return a;
      },
      async () => due,
    );
    return { w, calls };
  };

  it('checks once the time is up, not before', async () => {
    const { w, calls } = watch([{}]);
    w.arm('2026-12-06T03:30:00.000Z');
    await vi.advanceTimersByTimeAsync(29 * 60_000);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toEqual([Date.parse('2026-12-06T03:30:00.000Z')]);
    expect(w.armed).toBe(false);
  });

  it('a later arm replaces the earlier wake-up (a newer deploy)', async () => {
    const { w, calls } = watch([{}]);
    w.arm('2026-12-06T03:10:00.000Z');
    w.arm('2026-12-06T03:40:00.000Z');
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(calls).toEqual([Date.parse('2026-12-06T03:40:00.000Z')]);
  });

  it('looks again when told (lock busy) and after a failure', async () => {
    const { w, calls } = watch([{ retryInMs: 5_000 }, new Error('ssh dropped'), {}]);
    w.arm('2026-12-06T03:00:00.000Z');
    await vi.advanceTimersByTimeAsync(70_000);
    expect(calls.map((t) => t - Date.parse('2026-12-06T03:00:00.000Z'))).toEqual([0, 5_000, 65_000]);
  });

  it('resumes a stop scheduled by an earlier server; one overdue fires at once', async () => {
    const { w, calls } = watch([{}], '2026-12-06T02:00:00.000Z');
    await w.resume();
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toHaveLength(1);
  });

  it('does nothing after close', async () => {
    const { w, calls } = watch([{}]);
    w.arm('2026-12-06T03:01:00.000Z');
    await w.close();
    w.arm('2026-12-06T03:01:00.000Z');
    await vi.advanceTimersByTimeAsync(120_000);
    expect(calls).toEqual([]);
  });

  it('waits past the longest setTimeout in steps', async () => {
    const { w, calls } = watch([{}]);
    w.arm('2027-01-06T03:00:00.000Z'); // 31 days
    await vi.advanceTimersByTimeAsync(30 * 86_400_000);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(86_400_000);
    expect(calls).toHaveLength(1);
  });
});

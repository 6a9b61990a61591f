/**
 * The heartbeat's logic with a fake lock store; and the lock's compare
 * scripts (commands.ts) run for real by /bin/sh against a temporary state
 * dir, as they run on the NAS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_EXIT, lockAge, mkdirLock, removeLockIf, replaceLockDetailsIf, type RemoteCommand } from '../../../src/bluegreen/commands.js';
import { Heartbeat } from '../../../src/bluegreen/heartbeat.js';
import { type LockDetails, serializeLockDetails } from '../../../src/domain/index.js';
import { parseLockAge, type SwapOutcome } from '../../../src/bluegreen/lock.js';

const details: LockDetails = { operationId: 'deploy-1', operation: 'deploy', holder: 'me', since: '2026-12-06T03:00:00.000Z', host: 'h', pid: 1 };

/** A lock store holding one details text, with compare-and-swap like the NAS script. */
function fakeStore(initial: string) {
  const s = {
    text: initial as string | undefined,
    failNext: 0,
    async swap(expected: string, next: LockDetails): Promise<{ outcome: SwapOutcome; text: string }> {
      const t = serializeLockDetails(next);
      if (s.failNext > 0) {
        s.failNext--;
        throw new Error('ssh: connection reset');
      }
      if (s.text === undefined) return { outcome: 'free', text: t };
      if (s.text !== expected) return { outcome: 'not_ours', text: t };
      s.text = t;
      return { outcome: 'swapped', text: t };
    },
  };
  return s;
}

function heartbeatOn(store: ReturnType<typeof fakeStore>, text: string) {
  const events = { stamps: [] as string[], lost: [] as string[], errors: [] as string[] };
  let clock = Date.parse('2026-12-06T03:00:00Z');
  const hb = new Heartbeat(details, text, {
    swap: (e, n) => store.swap(e, n),
    stamp: async (at) => void events.stamps.push(at),
    onLost: (how) => events.lost.push(how),
    onError: (e) => events.errors.push(e.message),
    now: () => new Date((clock += 5_000)),
  });
  return { hb, events };
}

describe('heartbeat', () => {
  it('refreshes heartbeatAt by compare-and-swap against what it wrote last, and stamps the journal', async () => {
    const first = serializeLockDetails(details);
    const store = fakeStore(first);
    const { hb, events } = heartbeatOn(store, first);
    await hb.beat();
    await hb.beat();
    expect(events.stamps).toEqual(['2026-12-06T03:00:05.000Z', '2026-12-06T03:00:10.000Z']);
    expect(JSON.parse(store.text!)).toMatchObject({ operationId: 'deploy-1', heartbeatAt: '2026-12-06T03:00:10.000Z' });
    expect(hb.lockText).toBe(store.text);
    expect(hb.lost).toBeUndefined();
  });

  it('a lock that changed hands (recover took it over) is lost: onLost once, no more swaps', async () => {
    const first = serializeLockDetails(details);
    const store = fakeStore(first);
    const { hb, events } = heartbeatOn(store, first);
    await hb.beat();
    store.text = serializeLockDetails({ ...details, holder: 'recoverer' });
    await hb.beat();
    await hb.beat();
    expect(events.lost).toEqual(['taken']);
    expect(hb.lost).toBe('taken');
    expect(JSON.parse(store.text).holder).toBe('recoverer');
    expect(events.stamps).toHaveLength(1);
  });

  it('a removed lock is lost too', async () => {
    const first = serializeLockDetails(details);
    const store = fakeStore(first);
    const { hb, events } = heartbeatOn(store, first);
    store.text = undefined;
    await hb.beat();
    expect(events.lost).toEqual(['removed']);
  });

  it('a transient failure is reported and the next beat goes on from the same text', async () => {
    const first = serializeLockDetails(details);
    const store = fakeStore(first);
    const { hb, events } = heartbeatOn(store, first);
    store.failNext = 1;
    await hb.beat();
    expect(events.errors).toEqual(['ssh: connection reset']);
    expect(hb.lockText).toBe(first);
    await hb.beat();
    expect(events.lost).toEqual([]);
    expect(events.stamps).toHaveLength(1);
  });

  it('beats on its interval until stopped', async () => {
    const first = serializeLockDetails(details);
    const store = fakeStore(first);
    const { hb, events } = heartbeatOn(store, first);
    hb.start(20);
    await new Promise((r) => setTimeout(r, 200));
    await hb.stop();
    const n = events.stamps.length;
    expect(n).toBeGreaterThan(1);
    await new Promise((r) => setTimeout(r, 80));
    expect(events.stamps.length).toBe(n);
  });
});

describe('lock compare scripts, run by /bin/sh', () => {
  let root: string;
  let dir: string;
  const run = (c: RemoteCommand) => spawnSync(c.argv[0]!, c.argv.slice(1), { encoding: 'utf8' });
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'lock-'));
    dir = join(root, 'state');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('mkdir: first caller gets it, the second is told it is held', () => {
    expect(run(mkdirLock(dir)).status).toBe(0);
    expect(run(mkdirLock(dir)).status).toBe(LOCK_EXIT.held);
  });

  it('compare-and-swap replaces only the details it was told about', () => {
    run(mkdirLock(dir));
    const a = serializeLockDetails(details);
    writeFileSync(join(dir, 'lock', 'details.json'), a);
    const b = serializeLockDetails({ ...details, heartbeatAt: 'x' });
    expect(run(replaceLockDetailsIf(dir, 'something else', b)).status).toBe(LOCK_EXIT.notOurs);
    expect(readFileSync(join(dir, 'lock', 'details.json'), 'utf8')).toBe(a);
    expect(run(replaceLockDetailsIf(dir, a, b)).status).toBe(0);
    expect(readFileSync(join(dir, 'lock', 'details.json'), 'utf8')).toBe(b);
    expect(readdirSync(join(dir, 'lock'))).toEqual(['details.json']); // no temp file left
    rmSync(join(dir, 'lock'), { recursive: true });
    expect(run(replaceLockDetailsIf(dir, b, a)).status).toBe(LOCK_EXIT.free);
  });

  it('compare-and-delete removes only the lock it was told about, and leaves nothing behind', () => {
    run(mkdirLock(dir));
    const a = serializeLockDetails(details);
    writeFileSync(join(dir, 'lock', 'details.json'), a);
    expect(run(removeLockIf(dir, serializeLockDetails({ ...details, holder: 'other' }), 'n1')).status).toBe(LOCK_EXIT.notOurs);
    expect(readdirSync(dir)).toEqual(['lock']);
    expect(run(removeLockIf(dir, a, 'n2')).status).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    expect(run(removeLockIf(dir, a, 'n3')).status).toBe(LOCK_EXIT.free);
  });

  it('a lock without details is removed only by an empty compare', () => {
    mkdirSync(join(dir, 'lock'), { recursive: true });
    expect(run(removeLockIf(dir, serializeLockDetails(details), 'n1')).status).toBe(LOCK_EXIT.notOurs);
    expect(run(removeLockIf(dir, '', 'n2')).status).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('lock age by the local clock (the NAS clock in production): details first, else the directory', () => {
    mkdirSync(join(dir, 'lock'), { recursive: true });
    const dirAge = run(lockAge(dir));
    expect(dirAge.status).toBe(0);
    expect(parseLockAge(dirAge.stdout)).toBeGreaterThanOrEqual(0);
    writeFileSync(join(dir, 'lock', 'details.json'), 'x');
    execFileSync('touch', ['-d', '@1000000000', join(dir, 'lock', 'details.json')]);
    expect(parseLockAge(run(lockAge(dir)).stdout)).toBeGreaterThan(365 * 86_400_000);
    rmSync(join(dir, 'lock'), { recursive: true });
    expect(run(lockAge(dir)).status).not.toBe(0);
  });
});

/**
 * The heartbeat's logic with a fake lock store; and the lock's compare
 * scripts (commands.ts) run for real by /bin/sh against a temporary state
 * dir, as they run on the NAS.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCK_EXIT, lockAge, mkdirLock, removeLockIf, replaceLockDetailsIf, type RemoteCommand } from '../../../src/bluegreen/commands.js';
import { Heartbeat } from '../../../src/bluegreen/heartbeat.js';
import { type LockDetails, serializeLockDetails } from '../../../src/domain/index.js';
import { parseLockAge, releaseOwnLock, type SwapOutcome } from '../../../src/bluegreen/lock.js';
import type { SshPool } from '../../../src/ssh/pool.js';

const details: LockDetails = { operationId: 'deploy-1', operation: 'deploy', holder: 'me', since: '2026-12-06T03:00:00.000Z', host: 'h', pid: 1 };

/** A lock store holding one details text, with compare-and-swap like the NAS script. */
function fakeStore(initial: string) {
  const s = {
    text: initial as string | undefined,
    failNext: 0,
    /** Swaps that land on the NAS but whose answer is lost (the caller sees an error). */
    landThenFail: 0,
    async swap(expected: string, next: LockDetails): Promise<{ outcome: SwapOutcome; text: string }> {
      const t = serializeLockDetails(next);
      if (s.failNext > 0) {
        s.failNext--;
        throw new Error('ssh: connection reset');
      }
      if (s.text === undefined) return { outcome: 'free', text: t };
      if (s.text !== expected) return { outcome: 'not_ours', text: t };
      s.text = t;
      if (s.landThenFail > 0) {
        s.landThenFail--;
        throw new Error('ssh: channel closed before the exit status');
      }
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

/** A lock holding our first details, and a heartbeat that wrote them. */
function freshLock() {
  const first = serializeLockDetails(details);
  const store = fakeStore(first);
  return { first, store, ...heartbeatOn(store, first) };
}

describe('heartbeat', () => {
  it('refreshes heartbeatAt by compare-and-swap against what it wrote last, and stamps the journal', async () => {
    const { first, store, hb, events } = freshLock();
    await hb.beat();
    await hb.beat();
    expect(events.stamps).toEqual(['2026-12-06T03:00:05.000Z', '2026-12-06T03:00:10.000Z']);
    expect(JSON.parse(store.text!)).toMatchObject({ operationId: 'deploy-1', heartbeatAt: '2026-12-06T03:00:10.000Z' });
    expect(hb.lockText).toBe(store.text);
    expect(hb.lost).toBeUndefined();
  });

  it('a lock that changed hands (recover took it over) is lost: onLost once, no more swaps', async () => {
    const { first, store, hb, events } = freshLock();
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
    const { first, store, hb, events } = freshLock();
    store.text = undefined;
    await hb.beat();
    expect(events.lost).toEqual(['removed']);
  });

  it('a transient failure is reported and the next beat goes on from the same text', async () => {
    const { first, store, hb, events } = freshLock();
    store.failNext = 1;
    await hb.beat();
    expect(events.errors).toEqual(['ssh: connection reset']);
    expect(hb.lockText).toBe(first);
    await hb.beat();
    expect(events.lost).toEqual([]);
    expect(events.stamps).toHaveLength(1);
  });

  it('a swap that landed but whose answer was lost: the next beat adopts it instead of calling the lock lost', async () => {
    const { first, store, hb, events } = freshLock();
    store.landThenFail = 1;
    await hb.beat();
    expect(events.errors).toEqual(['ssh: channel closed before the exit status']);
    // The NAS holds the beat's text; we still remember the first one, and may own either.
    expect(store.text).not.toBe(first);
    expect(hb.ownTexts).toEqual([first, store.text]);
    await hb.beat();
    expect(events.lost).toEqual([]);
    expect(hb.lockText).toBe(store.text);
    expect(hb.ownTexts).toEqual([store.text]);
    expect(JSON.parse(store.text!).heartbeatAt).toBe('2026-12-06T03:00:10.000Z');
  });

  it('a lock taken over after a lost answer is still lost: no unsure text matches another holder', async () => {
    const { first, store, hb, events } = freshLock();
    store.landThenFail = 1;
    await hb.beat();
    store.text = serializeLockDetails({ ...details, holder: 'recoverer' });
    await hb.beat();
    expect(events.lost).toEqual(['taken']);
  });

  it('beats on its interval until stopped', async () => {
    const { first, store, hb, events } = freshLock();
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

  it('two swaps against the same text at the same instant: exactly one lands, the other is told', async () => {
    const a = serializeLockDetails(details);
    for (let round = 0; round < 15; round++) {
      rmSync(dir, { recursive: true, force: true });
      run(mkdirLock(dir));
      writeFileSync(join(dir, 'lock', 'details.json'), a);
      const texts = ['beat', 'recover'].map((holder) => serializeLockDetails({ ...details, holder }));
      const codes = await Promise.all(
        texts.map((t) => {
          const c = replaceLockDetailsIf(dir, a, t);
          return new Promise<number | null>((resolve) => spawn(c.argv[0]!, c.argv.slice(1)).on('close', resolve));
        }),
      );
      expect(codes.filter((c) => c === 0), `round ${round}: ${codes}`).toHaveLength(1);
      expect(codes.filter((c) => c === LOCK_EXIT.notOurs || c === LOCK_EXIT.busy)).toHaveLength(1);
      expect(readFileSync(join(dir, 'lock', 'details.json'), 'utf8')).toBe(texts[codes.indexOf(0)]);
      expect(readdirSync(join(dir, 'lock'))).toEqual(['details.json']);
    }
  });

  it('a swap that died after claiming the details: busy at first, put back once the claim is two minutes old', () => {
    run(mkdirLock(dir));
    const a = serializeLockDetails(details);
    writeFileSync(join(dir, 'lock', 'details.json.cas-999'), a);
    const b = serializeLockDetails({ ...details, heartbeatAt: 'x' });
    expect(run(replaceLockDetailsIf(dir, a, b)).status).toBe(LOCK_EXIT.busy);
    execFileSync('touch', ['-d', '@1000000000', join(dir, 'lock')]);
    expect(run(replaceLockDetailsIf(dir, a, b)).status).toBe(0);
    expect(readdirSync(join(dir, 'lock'))).toEqual(['details.json']);
    expect(readFileSync(join(dir, 'lock', 'details.json'), 'utf8')).toBe(b);
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

  it("the operation's own release tries each text it may have written, and repeats a failed attempt once", async () => {
    run(mkdirLock(dir));
    const remembered = serializeLockDetails(details);
    const landed = serializeLockDetails({ ...details, heartbeatAt: '2026-12-06T03:00:05.000Z' });
    writeFileSync(join(dir, 'lock', 'details.json'), landed);
    // A pool that runs the argv here, as sh runs it on the NAS; its first exec fails like a dropped channel.
    let failFirst = true;
    const pool = {
      async exec(argv: string[]) {
        if (failFirst) {
          failFirst = false;
          throw new Error('ssh: connection reset');
        }
        const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
        return { code: r.status, signal: undefined, stdout: r.stdout, stderr: r.stderr };
      },
    } as unknown as SshPool;
    const other = serializeLockDetails({ ...details, holder: 'other' });
    expect(await releaseOwnLock(pool, dir, [remembered, other], 1)).toBe('not_ours');
    expect(readdirSync(dir)).toEqual(['lock']);
    expect(await releaseOwnLock(pool, dir, [remembered, landed], 1)).toBe('released');
    expect(readdirSync(dir)).toEqual([]);
    expect(await releaseOwnLock(pool, dir, [remembered, landed], 1)).toBe('free');
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

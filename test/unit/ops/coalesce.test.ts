import { describe, expect, it } from 'vitest';
import { ReadCoalescer } from '../../../src/ops/coalesce.js';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('ReadCoalescer', () => {
  it('identical reads in flight share one read', async () => {
    const c = new ReadCoalescer();
    const d = deferred<number>();
    let reads = 0;
    const read = () => {
      reads++;
      return d.promise;
    };
    const all = Promise.all(Array.from({ length: 50 }, () => c.run('status', read)));
    expect(c.inFlight).toBe(1);
    d.resolve(7);
    expect(await all).toEqual(Array(50).fill(7));
    expect(reads).toBe(1);
    expect(c.inFlight).toBe(0);
  });

  it('different keys are different reads', async () => {
    const c = new ReadCoalescer();
    let reads = 0;
    const read = async () => ++reads;
    await Promise.all([c.run('a', read), c.run('b', read)]);
    expect(reads).toBe(2);
  });

  it('nothing is kept once a read settles: the next call reads again', async () => {
    const c = new ReadCoalescer();
    let reads = 0;
    const read = async () => ++reads;
    expect(await c.run('k', read)).toBe(1);
    expect(await c.run('k', read)).toBe(2);
  });

  it('a read that began before a write is not joined after it', async () => {
    const c = new ReadCoalescer();
    const first = deferred<string>();
    const second = deferred<string>();
    const reads = [first, second];
    let i = 0;
    const read = () => reads[i++]!.promise;
    const before = c.run('status', read);
    c.invalidate(); // e.g. an operation switched nginx
    const after = c.run('status', read);
    first.resolve('old');
    second.resolve('new');
    expect(await before).toBe('old');
    expect(await after).toBe('new');
    expect(i).toBe(2);
  });

  it('a failed read fails every joiner, and the next call tries again', async () => {
    const c = new ReadCoalescer();
    const d = deferred<number>();
    const joined = [c.run('k', () => d.promise), c.run('k', () => d.promise)];
    d.reject(new Error('NAS unreachable'));
    for (const p of joined) await expect(p).rejects.toThrow('NAS unreachable');
    expect(await c.run('k', async () => 1)).toBe(1);
  });

  it('one caller giving up does not cancel the read for the others; the last one does', async () => {
    const c = new ReadCoalescer();
    const d = deferred<number>();
    let seen: AbortSignal | undefined;
    const read = (s: AbortSignal) => {
      seen = s;
      return d.promise;
    };
    const a = new AbortController();
    const b = new AbortController();
    const pa = c.run('k', read, a.signal);
    const pb = c.run('k', read, b.signal);
    a.abort(new Error('client A went away'));
    await expect(pa).rejects.toThrow('client A went away');
    expect(seen!.aborted).toBe(false);
    b.abort(new Error('client B went away'));
    await expect(pb).rejects.toThrow('client B went away');
    expect(seen!.aborted).toBe(true);
    d.resolve(1);
  });

  it('an already aborted signal is refused before any read', async () => {
    const c = new ReadCoalescer();
    let reads = 0;
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(c.run('k', async () => ++reads, ac.signal)).rejects.toThrow('gone');
    expect(reads).toBe(0);
  });
});

describe('ReadCoalescer snapshots', () => {
  /** A coalescer with snapshots on a hand-moved clock and a switchable feed. */
  function setup(ttlMs = 1000) {
    let t = 1_000_000;
    let live = true;
    let uses = 0;
    const c = new ReadCoalescer({ ttlMs, now: () => t, live: () => live, onUse: () => uses++ });
    let reads = 0;
    const read = async () => `read ${++reads}`;
    return {
      c,
      read,
      reads: () => reads,
      uses: () => uses,
      tick: (ms: number) => (t += ms),
      setLive: (v: boolean) => (live = v),
    };
  }

  it('a settled read is served again until ttlMs after it began, saying how old it is', async () => {
    const x = setup(1000);
    const first = await x.c.read('status:5', x.read);
    expect(first).toMatchObject({ value: 'read 1', ageMs: 0, fromSnapshot: false });
    x.tick(400);
    const again = await x.c.read('status:5', x.read);
    expect(again).toEqual({ value: 'read 1', readAt: first.readAt, ageMs: 400, fromSnapshot: true });
    expect(x.reads()).toBe(1);
    expect(x.c.counts).toEqual({ snapshot: 1, joined: 0, read: 1 });
  });

  it('expires: at ttlMs after the read began the next call reads again', async () => {
    const x = setup(1000);
    await x.c.run('k', x.read);
    x.tick(1000);
    expect(await x.c.read('k', x.read)).toMatchObject({ value: 'read 2', fromSnapshot: false });
    expect(x.reads()).toBe(2);
  });

  it('a write (invalidate) drops what is kept', async () => {
    const x = setup();
    await x.c.run('k', x.read);
    expect(x.c.keptCount).toBe(1);
    x.c.invalidate();
    expect(x.c.keptCount).toBe(0);
    expect(await x.c.run('k', x.read)).toBe('read 2');
  });

  it('a read that began before an invalidation is never kept after it', async () => {
    const x = setup();
    const d = deferred<string>();
    const before = x.c.read('k', () => d.promise);
    x.c.invalidate(); // e.g. an operation phase, or a Docker event, while the read is on the NAS
    d.resolve('seen before the write');
    expect((await before).value).toBe('seen before the write'); // its own caller gets it…
    expect(x.c.keptCount).toBe(0); // …nobody after the write does
    expect(await x.c.run('k', x.read)).toBe('read 1');
  });

  it('an invalidation while a read is in flight: later callers neither join it nor get it kept, their own read is kept', async () => {
    const x = setup();
    const old = deferred<string>();
    const fresh = deferred<string>();
    const first = x.c.run('k', () => old.promise);
    x.c.invalidate();
    const second = x.c.run('k', () => fresh.promise);
    fresh.resolve('after');
    old.resolve('before'); // the older read settles last: it must not replace the newer one
    expect([await first, await second]).toEqual(['before', 'after']);
    expect(await x.c.run('k', x.read)).toBe('after');
  });

  it('nothing is kept or served while the change feed is down', async () => {
    const x = setup();
    x.setLive(false);
    await x.c.run('k', x.read);
    expect(x.c.keptCount).toBe(0);
    expect(await x.c.run('k', x.read)).toBe('read 2');
    // Kept while up, then the feed drops (its listener also invalidates; even without that, nothing is served while down).
    x.setLive(true);
    await x.c.run('k', x.read);
    x.setLive(false);
    expect(await x.c.run('k', x.read)).toBe('read 4');
  });

  it('a read that began while the feed was down is not kept, even if the feed is up when it settles', async () => {
    const x = setup();
    x.setLive(false);
    const d = deferred<string>();
    const p = x.c.run('k', () => d.promise);
    x.setLive(true);
    d.resolve('unwatched');
    await p;
    expect(x.c.keptCount).toBe(0);
  });

  it('`keep` may refuse a value (a status with an operation in progress)', async () => {
    const x = setup();
    const busy = { lock: { held: true } };
    await x.c.run('k', async () => busy, undefined, (v) => !v.lock.held);
    expect(x.c.keptCount).toBe(0);
  });

  it('a failed read is not kept', async () => {
    const x = setup();
    await expect(x.c.run('k', async () => Promise.reject(new Error('NAS unreachable')))).rejects.toThrow('NAS unreachable');
    expect(x.c.keptCount).toBe(0);
  });

  it('callers that join a read in flight are told its age, not a snapshot', async () => {
    const x = setup();
    const d = deferred<string>();
    const a = x.c.read('k', () => d.promise);
    x.tick(30);
    const b = x.c.read('k', x.read);
    x.tick(10);
    d.resolve('shared');
    expect(await a).toMatchObject({ value: 'shared', ageMs: 40, fromSnapshot: false });
    expect(await b).toMatchObject({ value: 'shared', ageMs: 40, fromSnapshot: false });
    expect(x.reads()).toBe(0);
  });

  it('with ttlMs 0 nothing is kept and the feed is never started', async () => {
    const x = setup(0);
    await x.c.run('k', x.read);
    await x.c.run('k', x.read);
    expect(x.reads()).toBe(2);
    expect(x.uses()).toBe(0);
  });

  it('keys are kept apart', async () => {
    const x = setup();
    expect(await x.c.run('status:5', x.read)).toBe('read 1');
    expect(await x.c.run('status:1', x.read)).toBe('read 2');
    expect(await x.c.run('status:5', x.read)).toBe('read 1');
  });
});

describe('status reads and operations', () => {
  it("an operation's start, phases and end each make later status callers read afresh", async () => {
    const { configSchema } = await import('../../../src/config.js');
    const { createServices } = await import('../../../src/services.js');
    const { memoryLogger } = await import('../server/fixtures.js');
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    // A real key file (the pool reads it at creation); nothing connects in this test.
    const key = join(mkdtempSync(join(tmpdir(), 'coalesce-')), 'id');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const config = configSchema.parse({
      nas: { username: 'admin', privateKeyPath: key, hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
      sudo: { mode: 'none' },
    });
    const { singleNasRoot } = await import('../../../src/config/targets.js');
    // No Docker event subscription here (it would try to reach the NAS); the invalidation path is the same with one.
    const bundle = await createServices(singleNasRoot(config), {}, memoryLogger().log, { statusSnapshots: false });
    const { reads, events } = bundle.services;
    try {
      const at = new Date().toISOString();
      const steps = [
        () => events!.started({ operationId: 'op-1', kind: 'deploy', who: 'test', at } as never),
        () => events!.phase({ operationId: 'op-1', kind: 'deploy', phase: 'switch', at }),
        () => events!.finished({ operationId: 'op-1', kind: 'deploy', outcome: 'succeeded' } as never),
      ];
      for (const step of steps) {
        const pending: Array<ReturnType<typeof deferred<string>>> = [];
        const read = () => {
          const d = deferred<string>();
          pending.push(d);
          return d.promise;
        };
        const before = reads.run('status:5', read);
        step();
        const after = reads.run('status:5', read);
        expect(pending).toHaveLength(2);
        pending[0]!.resolve('before');
        pending[1]!.resolve('after');
        expect([await before, await after]).toEqual(['before', 'after']);
      }
    } finally {
      await bundle.close();
    }
  });
});

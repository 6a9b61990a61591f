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
    const bundle = await createServices(singleNasRoot(config), {}, memoryLogger().log);
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

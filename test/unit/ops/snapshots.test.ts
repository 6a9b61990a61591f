/**
 * Status snapshots of one target's apps, kept honest by a (fake) Docker event
 * subscription: what is served, and what drops it.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TargetSnapshots } from '../../../src/ops/snapshots.js';

async function until(cond: () => boolean, turns = 1000): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition never held');
}

const line = (action: string, name = 'loop-api-blue') => `${JSON.stringify({ Type: 'container', Action: action, Actor: { Attributes: { name } } })}\n`;

function setup() {
  const subs: PassThrough[] = [];
  const t = { now: 1_000_000 };
  const snaps = new TargetSnapshots({
    ttlMs: 2000,
    open: async () => {
      const s = new PassThrough();
      subs.push(s);
      return s;
    },
    now: () => t.now,
    sleep: async () => {},
  });
  const api = snaps.reads();
  const auth = snaps.reads();
  let n = 0;
  const status = (reads = api) => reads.read('status:5', async () => `state ${++n}`);
  return { snaps, subs, api, auth, status, t, reads: () => n };
}

describe('TargetSnapshots', () => {
  it('the first status starts the subscription; until it stands, every status reads the NAS', async () => {
    const x = setup();
    expect(x.subs).toHaveLength(0);
    expect(await x.status()).toMatchObject({ value: 'state 1', fromSnapshot: false });
    await until(() => x.snaps.feed.live);
    expect(x.subs).toHaveLength(1);
    expect(x.api.keptCount).toBe(0); // that read began while nothing watched the NAS
    expect((await x.status()).value).toBe('state 2');
    expect(await x.status()).toMatchObject({ value: 'state 2', fromSnapshot: true });
    await x.snaps.close();
  });

  it('a container event drops every app snapshot of the target; a health-check exec does not', async () => {
    const x = setup();
    x.snaps.feed.start();
    await until(() => x.snaps.feed.live);
    await x.status(x.api);
    await x.status(x.auth);
    x.subs[0]!.write(line('exec_start: /bin/sh -c wget -q -O- /health'));
    x.subs[0]!.write(line('exec_die'));
    await new Promise((r) => setImmediate(r));
    expect(await x.status(x.api)).toMatchObject({ value: 'state 1', fromSnapshot: true });
    x.subs[0]!.write(line('die', 'loop-auth')); // `docker stop loop-auth` done by hand on the NAS
    await until(() => x.api.keptCount === 0 && x.auth.keptCount === 0);
    expect(await x.status(x.api)).toMatchObject({ value: 'state 3', fromSnapshot: false });
    expect(await x.status(x.auth)).toMatchObject({ value: 'state 4', fromSnapshot: false });
    await x.snaps.close();
  });

  it('losing the subscription drops the snapshots and none is kept until it stands again', async () => {
    // The second subscription is held back, to look at the gap.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const subs: PassThrough[] = [];
    const snaps = new TargetSnapshots({
      ttlMs: 2000,
      open: async () => {
        if (subs.length === 1) await gate;
        const s = new PassThrough();
        subs.push(s);
        return s;
      },
      sleep: async () => {},
    });
    const reads = snaps.reads();
    let n = 0;
    const status = () => reads.read('k', async () => ++n);
    snaps.feed.start();
    await until(() => snaps.feed.live);
    await status();
    expect((await status()).fromSnapshot).toBe(true);
    subs[0]!.destroy(new Error('SSH connection lost'));
    await until(() => !snaps.feed.live);
    expect(reads.keptCount).toBe(0);
    expect(await status()).toMatchObject({ value: 2, fromSnapshot: false });
    expect(await status()).toMatchObject({ value: 3, fromSnapshot: false });
    release();
    await until(() => snaps.feed.live);
    await status();
    expect(await status()).toMatchObject({ value: 4, fromSnapshot: true });
    await snaps.close();
  });

  it('a snapshot expires ttlMs after its read began', async () => {
    const x = setup();
    x.snaps.feed.start();
    await until(() => x.snaps.feed.live);
    await x.status();
    x.t.now += 1999;
    expect(await x.status()).toMatchObject({ value: 'state 1', ageMs: 1999, fromSnapshot: true });
    x.t.now += 1;
    expect(await x.status()).toMatchObject({ value: 'state 2', fromSnapshot: false });
    await x.snaps.close();
  });
});

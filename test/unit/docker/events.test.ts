import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { changesStatus, DockerEventFeed, parseEvent, type DockerEvent } from '../../../src/docker/events.js';
import { paths } from '../../../src/docker/requests.js';

/** Lets queued promise callbacks and stream events run until `cond` holds (bounded in turns, not in time). */
async function until(cond: () => boolean, turns = 1000): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error('condition never held');
}

const event = (action: string, name = 'loop-api-blue', type = 'container') =>
  `${JSON.stringify({ Type: type, Action: action, Actor: { ID: 'abc', Attributes: { name, image: 'loop-api:1' } }, time: 1, timeNano: 1 })}\n`;

/** An Engine whose subscriptions are PassThrough streams; the next `failures` subscriptions fail. */
function fakeEngine() {
  const subs: Array<{ sinceSec: number; stream: PassThrough }> = [];
  const state = { failures: 0 };
  const open = async ({ sinceSec }: { sinceSec: number; signal: AbortSignal }) => {
    if (state.failures > 0) {
      state.failures--;
      throw new Error('Channel open failure');
    }
    const stream = new PassThrough();
    subs.push({ sinceSec, stream });
    return stream;
  };
  return { subs, state, open };
}

function feedOn(engine: ReturnType<typeof fakeEngine>) {
  const seen: Array<DockerEvent | undefined> = [];
  const transitions: boolean[] = [];
  const pauses: number[] = [];
  const feed = new DockerEventFeed({
    open: engine.open,
    onEvent: (e) => seen.push(e),
    onLiveChange: (live) => transitions.push(live),
    backoff: { initialMs: 100, maxMs: 800 },
    now: () => 1_700_000_000_000,
    sleep: async (ms) => {
      pauses.push(ms);
    },
  });
  return { feed, seen, transitions, pauses };
}

describe('Docker events', () => {
  it('the subscription path asks for container and image events and a replay', () => {
    const url = new URL(`http://x${paths.events(1_700_000_000)}`);
    expect(url.pathname).toBe('/v1.41/events');
    expect(url.searchParams.get('since')).toBe('1700000000');
    expect(JSON.parse(url.searchParams.get('filters')!)).toEqual({ type: ['container', 'image'] });
  });

  it('parses an event line; anything but JSON is not an event', () => {
    expect(parseEvent(event('die').trim())).toEqual({ type: 'container', action: 'die', name: 'loop-api-blue' });
    expect(parseEvent('{"status":"stop"}')).toEqual({ type: '', action: 'stop', name: undefined });
    expect(parseEvent('not json')).toBeUndefined();
    expect(parseEvent('42')).toBeUndefined();
  });

  it('health-check execs do not change status; every other event (or an unknown line) does', () => {
    expect(changesStatus(parseEvent(event('exec_start: /bin/sh -c wget -q /health')))).toBe(false);
    expect(changesStatus(parseEvent(event('exec_die')))).toBe(false);
    for (const a of ['start', 'die', 'stop', 'kill', 'destroy', 'rename', 'health_status: unhealthy', 'something_new']) {
      expect(changesStatus(parseEvent(event(a)))).toBe(true);
    }
    expect(changesStatus(parseEvent(event('delete', 'loop-api:old', 'image')))).toBe(true);
    expect(changesStatus(undefined)).toBe(true);
  });
});

describe('DockerEventFeed', () => {
  it('is live from the subscription until the stream ends, and delivers each event line', async () => {
    const engine = fakeEngine();
    const { feed, seen, transitions } = feedOn(engine);
    expect(feed.live).toBe(false);
    feed.start();
    feed.start(); // once
    await until(() => feed.live);
    expect(engine.subs).toHaveLength(1);
    // It asks the Engine to replay the last minute: nothing between "subscribed" and "listening" is lost.
    expect(engine.subs[0]!.sinceSec).toBe(1_700_000_000 - 60);
    const s = engine.subs[0]!.stream;
    s.write(event('stop'));
    s.write(event('die').slice(0, 20)); // a line in two chunks
    s.write(event('die').slice(20));
    await until(() => seen.length === 2);
    expect(seen.map((e) => e?.action)).toEqual(['stop', 'die']);
    s.end();
    await until(() => engine.subs.length === 2); // reconnected
    expect(transitions.slice(0, 3)).toEqual([true, false, true]);
    await feed.close();
    expect(feed.live).toBe(false);
  });

  it('a failed subscription is retried after a pause that doubles per failure, up to the cap', async () => {
    const engine = fakeEngine();
    engine.state.failures = 5;
    const { feed, pauses } = feedOn(engine);
    feed.start();
    await until(() => feed.live);
    expect(pauses).toEqual([100, 200, 400, 800, 800]);
    expect(feed.subscribed).toBe(1);
    await feed.close();
  });

  it('a stream that fails (connection lost) makes it not live, then it subscribes again', async () => {
    const engine = fakeEngine();
    const { feed, transitions } = feedOn(engine);
    feed.start();
    await until(() => feed.live);
    engine.subs[0]!.stream.destroy(new Error('SSH connection lost'));
    await until(() => engine.subs.length === 2 && feed.live);
    expect(transitions).toEqual([true, false, true]);
    await feed.close();
  });

  it('close() ends the subscription and no new one is made', async () => {
    const engine = fakeEngine();
    const { feed } = feedOn(engine);
    feed.start();
    await until(() => feed.live);
    await feed.close();
    expect(engine.subs[0]!.stream.destroyed).toBe(true);
    expect(feed.live).toBe(false);
    feed.start();
    await new Promise((r) => setImmediate(r));
    expect(engine.subs).toHaveLength(1);
  });

  it('a throwing listener does not stop the feed', async () => {
    const engine = fakeEngine();
    let n = 0;
    const feed = new DockerEventFeed({
      open: engine.open,
      onEvent: () => {
        n++;
        throw new Error('listener bug');
      },
      sleep: async () => {},
    });
    feed.start();
    await until(() => feed.live);
    engine.subs[0]!.stream.write(event('start') + event('stop'));
    await until(() => n === 2);
    expect(feed.live).toBe(true);
    await feed.close();
  });
});

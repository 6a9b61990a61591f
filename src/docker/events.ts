/**
 * The NAS's own changes, as the Docker Engine tells them: one long-lived
 * event subscription (GET /events over its own dial-stdio channel), kept up
 * with reconnects and a growing pause between failed attempts.
 *
 * `live` is true only while the subscription stands: from the Engine's 200
 * until the stream ends or fails. Whoever relies on the feed (the status
 * snapshots) must treat "not live" as "changes may be missed" and every
 * transition as one (both are told through `onLiveChange`).
 */
import type { Readable } from 'node:stream';
import { LineSplitter } from '../line-splitter.js';
import type { Logger } from '../log.js';

/** One Engine event, as much of it as the product looks at. */
export interface DockerEvent {
  /** container | image | … */
  type: string;
  /** start, die, stop, health_status: healthy, rename, tag, delete, … */
  action: string;
  /** The container's (or image's) name, when the Engine gives one. */
  name: string | undefined;
}

/** Parses one line of the event stream; a line that is not an event gives `undefined`. */
export function parseEvent(line: string): DockerEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!raw || typeof raw !== 'object') return undefined;
  const r = raw as { Type?: unknown; Action?: unknown; status?: unknown; Actor?: { Attributes?: Record<string, unknown> } };
  const action = typeof r.Action === 'string' ? r.Action : typeof r.status === 'string' ? r.status : '';
  const name = r.Actor?.Attributes?.name;
  return { type: typeof r.Type === 'string' ? r.Type : '', action, name: typeof name === 'string' ? name : undefined };
}

/**
 * Whether an event may change what status shows. Only `exec_*` does not: a
 * container's HEALTHCHECK runs as an exec every interval (its outcome comes as
 * `health_status` when it changes), and so does any `docker exec`. Anything
 * else, including an action this code does not know, counts.
 */
export function changesStatus(e: DockerEvent | undefined): boolean {
  if (!e) return true;
  return !e.action.startsWith('exec_');
}

export interface DockerEventFeedOptions {
  /**
   * Subscribes: resolves with the event stream (JSON lines) once the Engine
   * accepted; `sinceSec` asks it to replay its buffered events from then on.
   */
  open(o: { sinceSec: number; signal: AbortSignal }): Promise<Readable>;
  /** Every event (or unparseable line, as `undefined`). */
  onEvent(e: DockerEvent | undefined): void;
  /** The subscription stood up (true) or went down (false). */
  onLiveChange?(live: boolean, why: string | undefined): void;
  /** First pause after a failure, doubled per failure up to `maxMs` (defaults 250 ms, 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  log?: Logger;
  /** Clock (ms since the epoch) and timers, for tests. */
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Replay this much of the Engine's buffer on every (re)subscription: covers the set-up gap and modest clock skew. */
const REPLAY_SEC = 60;
/** A subscription that stood this long counts as healthy: the next pause starts small again. */
const STABLE_MS = 10_000;

const abortableSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    t.unref();
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class DockerEventFeed {
  private isLive = false;
  private started = false;
  private readonly stop = new AbortController();
  private current: Readable | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private subscriptions = 0;

  constructor(private readonly o: DockerEventFeedOptions) {}

  get live(): boolean {
    return this.isLive;
  }

  /** Times the subscription stood up so far (tests, logs). */
  get subscribed(): number {
    return this.subscriptions;
  }

  /** Starts the subscription loop (once; later calls do nothing). */
  start(): void {
    if (this.started || this.stop.signal.aborted) return;
    this.started = true;
    this.loopDone = this.loop();
  }

  /** Ends the subscription for good. */
  async close(): Promise<void> {
    this.stop.abort(new Error('closed'));
    this.current?.destroy();
    await this.loopDone;
  }

  private setLive(live: boolean, why?: string): void {
    if (this.isLive === live) return;
    this.isLive = live;
    try {
      this.o.onLiveChange?.(live, why);
    } catch (e) {
      this.o.log?.error({ err: (e as Error).message }, 'docker event feed listener failed');
    }
  }

  private async loop(): Promise<void> {
    const initial = this.o.backoff?.initialMs ?? 250;
    const max = this.o.backoff?.maxMs ?? 30_000;
    const now = this.o.now ?? Date.now;
    const sleep = this.o.sleep ?? abortableSleep;
    const signal = this.stop.signal;
    let pause = initial;
    while (!signal.aborted) {
      let body: Readable;
      try {
        body = await this.o.open({ sinceSec: Math.floor(now() / 1000) - REPLAY_SEC, signal });
      } catch (e) {
        if (signal.aborted) break;
        this.o.log?.warn({ err: (e as Error).message, retryInMs: pause }, 'cannot subscribe to Docker events: status snapshots are off until it works');
        await sleep(pause, signal);
        pause = Math.min(max, pause * 2);
        continue;
      }
      if (signal.aborted) {
        body.destroy();
        break;
      }
      this.current = body;
      this.subscriptions++;
      const since = now();
      this.setLive(true);
      const why = await this.consume(body);
      this.current = undefined;
      this.setLive(false, why);
      if (signal.aborted) break;
      this.o.log?.warn({ why, retryInMs: pause }, 'Docker event subscription ended: status snapshots are off until it is back');
      if (now() - since >= STABLE_MS) pause = initial;
      await sleep(pause, signal);
      pause = Math.min(max, pause * 2);
    }
    this.setLive(false, 'closed');
  }

  /** Reads events until the stream ends; resolves with why it ended. */
  private consume(body: Readable): Promise<string> {
    return new Promise<string>((resolve) => {
      const lines = new LineSplitter((line) => {
        if (!line.trim()) return;
        try {
          this.o.onEvent(parseEvent(line));
        } catch (e) {
          this.o.log?.error({ err: (e as Error).message }, 'docker event listener failed');
        }
      });
      let ended = false;
      const end = (why: string) => {
        if (ended) return;
        ended = true;
        body.destroy();
        resolve(why);
      };
      body.on('data', (c: Buffer | string) => lines.push(c));
      body.once('end', () => end('the Engine ended the event stream'));
      body.once('error', (e: Error) => end(e.message));
      body.once('close', () => end('the event stream closed'));
    });
  }
}

/**
 * Status snapshots of the apps of one target (one NAS), kept honest by that
 * NAS's Docker events: any container or image event (health-check execs
 * aside) drops every app's snapshot on the target, and so does the event
 * subscription going down or coming back up. While it is down no snapshot is
 * kept or served at all: every status reads the NAS afresh.
 *
 * The subscription starts with the first status read that could use a
 * snapshot (a one-shot CLI run never opens it) and ends with `close()`.
 */
import type { Readable } from 'node:stream';
import { changesStatus, DockerEventFeed } from '../docker/events.js';
import type { Logger } from '../log.js';
import { ReadCoalescer } from './coalesce.js';

export interface TargetSnapshotsOptions {
  /** How long a status read may be served again (ms); 0 disables snapshots. */
  ttlMs: number;
  /** Subscribes to the target's Docker events (DockerEngine.events). */
  open(o: { sinceSec: number; signal: AbortSignal }): Promise<Readable>;
  log?: Logger;
  /** For tests: the feed's backoff and clocks. */
  backoff?: { initialMs: number; maxMs: number };
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export class TargetSnapshots {
  readonly feed: DockerEventFeed;
  private readonly members: ReadCoalescer[] = [];
  private readonly opts: TargetSnapshotsOptions;

  constructor(opts: TargetSnapshotsOptions) {
    this.opts = opts;
    this.feed = new DockerEventFeed({
      open: opts.open,
      onEvent: (e) => {
        if (changesStatus(e)) this.invalidateAll();
      },
      // Events may have been missed while it was down, and a read that began before it came up saw an unwatched NAS.
      onLiveChange: (live, why) => {
        this.invalidateAll();
        opts.log?.debug({ live, why }, 'docker event feed');
      },
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.sleep ? { sleep: opts.sleep } : {}),
    });
  }

  /** A read coalescer for one app of this target, its snapshots tied to this target's feed. */
  reads(): ReadCoalescer {
    const feed = this.feed;
    const r = new ReadCoalescer({
      ttlMs: this.opts.ttlMs,
      live: () => feed.live,
      onUse: () => feed.start(),
      ...(this.opts.now ? { now: this.opts.now } : {}),
    });
    this.members.push(r);
    return r;
  }

  invalidateAll(): void {
    for (const r of this.members) r.invalidate();
  }

  close(): Promise<void> {
    return this.feed.close();
  }
}

/**
 * Webhook delivery: when an operation ends, one POST per configured webhook.
 * Never in the operation's way: the listener only queues (bounded: the
 * oldest delivery is dropped past `queueMax`), a few deliveries run at once,
 * each attempt has a timeout, and failures are retried a bounded number of
 * times with exponential backoff and jitter (network errors, 408, 429, 5xx;
 * another 4xx will not get better). Logs name a webhook by its origin only,
 * and every error text goes through the scrubber, which knows the URLs.
 *
 * A long deploy started from ChatGPT (whose calls stop after ~60 s) thus
 * still tells the owner how it ended.
 */
import type { Logger, SecretScrubber } from '../log.js';
import type { OperationEvents, OperationFinished, OperationStarted } from '../ops/events.js';
import { buildPayload, type OperationNotice, type WebhookFormat, type WebhookRequest } from './payloads.js';
import { displayUrl } from './url.js';

export interface Webhook {
  url: string;
  format: WebhookFormat;
}

export interface NotifierOptions {
  webhooks: Webhook[];
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  queueMax: number;
  log: Logger;
  scrubber: SecretScrubber;
  /** Version of a color's container right now (for "from" in the notice); bounded, may fail. */
  versionOf?: (color: string, operation?: { target: string; app: string }) => Promise<string | null>;
  /** Deliveries in flight at once. */
  concurrency?: number;
  /** Injected in unit tests. */
  fetch?: typeof fetch;
  random?: () => number;
}

interface Delivery {
  hook: Webhook;
  req: WebhookRequest;
  operationId: string;
}

const MAX_BACKOFF_MS = 60_000;
const VERSION_LOOKUP_MS = 5_000;
const MAX_TRACKED = 100;

/** Retry after this response? */
export function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Backoff before retry `n` (1-based): base × 2^(n-1), ± 25 % jitter, capped. */
export function backoffDelay(n: number, baseMs: number, random: () => number = Math.random): number {
  const raw = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** (n - 1));
  return Math.round(raw * (0.75 + random() * 0.5));
}

/** Retry-After in seconds or as a date; bounded by the backoff cap. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) && ms >= 0 ? Math.min(MAX_BACKOFF_MS, ms) : undefined;
}

/** The facts a notice needs: the finished event plus the versions on either side. */
export function noticeOf(e: OperationFinished, fromVersion: string | null): OperationNotice {
  // restart / reset_oauth stay on one color: what served before serves after.
  const sameColor = e.fromColor !== null && e.fromColor === e.toColor;
  return { ...e, fromVersion, toVersion: e.version ?? (sameColor ? fromVersion : null) };
}

export class WebhookNotifier {
  private readonly queue: Delivery[] = [];
  private active = 0;
  /** Finished operations whose notice is being built (version lookup). */
  private preparing = 0;
  private readonly fromVersions = new Map<string, Promise<string | null>>();
  private readonly closing = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private readonly fetchImpl: typeof fetch;
  private readonly random: () => number;
  /** Counters for tests and logs. */
  readonly stats = { queued: 0, delivered: 0, failed: 0, dropped: 0 };

  constructor(private readonly o: NotifierOptions) {
    this.fetchImpl = o.fetch ?? fetch;
    this.random = o.random ?? Math.random;
  }

  /** What the engine's event hub calls: sync, never throws, never waits. */
  readonly listener: Partial<OperationEvents> = {
    started: (e) => this.onStarted(e),
    finished: (e) => this.onFinished(e),
  };

  private onStarted(e: OperationStarted): void {
    const color = e.detail.fromColor;
    if (!this.o.versionOf || !color) return;
    if (this.fromVersions.size >= MAX_TRACKED) this.fromVersions.delete(this.fromVersions.keys().next().value!);
    const lookup = this.o.versionOf(color, { target: e.target, app: e.app });
    const bounded = Promise.race([lookup, new Promise<null>((r) => setTimeout(() => r(null), VERSION_LOOKUP_MS).unref())]).catch(() => null);
    this.fromVersions.set(e.operationId, bounded);
  }

  private onFinished(e: OperationFinished): void {
    const lookup = this.fromVersions.get(e.operationId) ?? Promise.resolve(null);
    this.fromVersions.delete(e.operationId);
    // The version lookup is the only wait, and it happens here, off the engine's path.
    this.preparing++;
    void lookup
      .then((fromVersion) => {
        const notice = noticeOf(e, fromVersion);
        for (const hook of this.o.webhooks) this.enqueue({ hook, req: buildPayload(hook.format, notice), operationId: e.operationId });
      })
      .catch((err: Error) => this.o.log.error({ operationId: e.operationId, err: this.o.scrubber.scrub(err.message) }, 'webhook notice not built'))
      .finally(() => {
        this.preparing--;
        this.checkIdle();
      });
  }

  private checkIdle(): void {
    if (this.pending) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private enqueue(d: Delivery): void {
    if (this.closing.signal.aborted) return;
    this.queue.push(d);
    this.stats.queued++;
    if (this.queue.length > this.o.queueMax) {
      const old = this.queue.shift()!;
      this.stats.dropped++;
      this.o.log.warn({ webhook: displayUrl(old.hook.url), operationId: old.operationId, queueMax: this.o.queueMax }, 'webhook queue full: oldest notification dropped');
    }
    this.pump();
  }

  private pump(): void {
    const limit = this.o.concurrency ?? 4;
    while (this.active < limit && this.queue.length) {
      const d = this.queue.shift()!;
      this.active++;
      void this.deliver(d).finally(() => {
        this.active--;
        this.pump();
        this.checkIdle();
      });
    }
  }

  private async deliver(d: Delivery): Promise<void> {
    const where = displayUrl(d.hook.url);
    const attempts = 1 + this.o.retries;
    let lastError = '';
    for (let n = 1; n <= attempts; n++) {
      if (this.closing.signal.aborted) break;
      let wait: number | undefined;
      try {
        const res = await this.fetchImpl(d.hook.url, {
          method: 'POST',
          headers: { ...d.req.headers, 'user-agent': 'loop-ops-mcp' },
          body: d.req.body,
          signal: AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.closing.signal]),
          redirect: 'error',
        });
        // Drain the body so the connection can be reused; its content is not ours to log.
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.stats.delivered++;
          this.o.log.info({ webhook: where, format: d.hook.format, operationId: d.operationId, status: res.status, attempt: n }, 'webhook delivered');
          return;
        }
        lastError = `HTTP ${res.status}`;
        if (!retryable(res.status)) break;
        wait = retryAfterMs(res.headers.get('retry-after'));
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        lastError = this.o.scrubber.scrub(err.cause?.code ?? err.cause?.message ?? err.message ?? String(e));
      }
      if (n < attempts) {
        const delay = wait ?? backoffDelay(n, this.o.backoffMs, this.random);
        this.o.log.debug({ webhook: where, operationId: d.operationId, attempt: n, error: lastError, retryInMs: delay }, 'webhook attempt failed');
        await this.sleep(delay);
      }
    }
    this.stats.failed++;
    this.o.log.warn({ webhook: where, format: d.hook.format, operationId: d.operationId, error: lastError, attempts }, 'webhook not delivered');
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      t.unref();
      this.closing.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
    });
  }

  /** Notices being built, deliveries waiting or in flight. */
  get pending(): number {
    return this.preparing + this.queue.length + this.active;
  }

  /** Waits (bounded) for every queued notification, then gives up on the rest. Resolves true if all went out. */
  async drain(ms: number): Promise<boolean> {
    if (this.pending) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((r) => this.idleWaiters.push(r)),
        new Promise<void>((r) => (timer = setTimeout(r, ms))),
      ]);
      clearTimeout(timer);
    }
    const left = this.pending;
    if (left) {
      this.o.log.warn({ pending: left }, 'webhook notifications still pending at shutdown: given up');
      this.closing.abort();
      this.queue.length = 0;
    }
    return left === 0;
  }
}

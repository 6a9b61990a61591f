/**
 * The notifier against a real HTTP receiver on loopback (no NAS needed):
 * one POST per webhook, retries only where they can help, bounded queue, a
 * drain that gives up, and webhook URLs (whose paths are tokens) never in logs.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { scrubberFor } from '../../../src/log.js';
import type { OperationFinished } from '../../../src/ops/events.js';
import { OperationEventHub } from '../../../src/ops/events.js';
import { backoffDelay, noticeOf, retryAfterMs, retryable, WebhookNotifier, type Webhook } from '../../../src/notify/webhooks.js';
import { memoryLogger } from '../server/fixtures.js';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Answers each request with the next status of `statuses` (the last repeats); `hang` never answers. */
async function receiver(statuses: Array<number | 'hang'>) {
  const got: Received[] = [];
  let i = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', headers: req.headers, body });
      const s = statuses[Math.min(i++, statuses.length - 1)]!;
      if (s === 'hang') return;
      res.writeHead(s).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  servers.push(server);
  return { got, base: `http://127.0.0.1:${port}` };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const finished = (over: Partial<OperationFinished> = {}): OperationFinished => ({
  operationId: 'rollback-20261206-031500-ab12',
  kind: 'rollback',
  app: 'loop-api',
  target: 'nas.local',
  who: 'token:0a1b2c3d4e5f',
  outcome: 'succeeded',
  fromColor: 'green',
  toColor: 'blue',
  version: '1.0.0',
  image: 'loop-api:1',
  commit: 'abc',
  message: null,
  startedAt: '2026-12-06T03:15:00.000Z',
  endedAt: '2026-12-06T03:15:01.300Z',
  durationMs: 1300,
  ...over,
});

const SECRET_PATH = '/services/T0SECRET1/B0SECRET2/XyzSecretToken123';

function notifier(webhooks: Webhook[], opts: { retries?: number; queueMax?: number; concurrency?: number; timeoutMs?: number } = {}) {
  const { log, lines } = memoryLogger();
  const n = new WebhookNotifier({
    webhooks,
    timeoutMs: opts.timeoutMs ?? 2_000,
    retries: opts.retries ?? 2,
    backoffMs: 10,
    queueMax: opts.queueMax ?? 100,
    log,
    scrubber: scrubberFor({ webhookUrls: webhooks.map((w) => w.url) }),
    versionOf: async (color) => (color === 'green' ? '1.1.0' : '1.0.0'),
    ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
  });
  const hub = new OperationEventHub(log);
  hub.subscribe(n.listener);
  return { n, hub, lines };
}

describe('webhook delivery', () => {
  it('posts one notice per webhook, in its format, with the version looked up when the operation started', async () => {
    const r = await receiver([200]);
    const { n, hub } = notifier([
      { url: `${r.base}/json?token=abc123secret`, format: 'json' },
      { url: `${r.base}${SECRET_PATH}`, format: 'slack' },
    ]);
    hub.started({ operationId: finished().operationId, kind: 'rollback', app: 'loop-api', target: 'nas.local', who: 'x', startedAt: '', detail: { fromColor: 'green', toColor: 'blue' } });
    hub.finished(finished());
    expect(await n.drain(10_000)).toBe(true);
    expect(r.got).toHaveLength(2);
    const json = JSON.parse(r.got.find((g) => g.path.startsWith('/json'))!.body);
    expect(json).toMatchObject({ kind: 'rollback', outcome: 'succeeded', fromColor: 'green', fromVersion: '1.1.0', toColor: 'blue', toVersion: '1.0.0', who: 'token:0a1b2c3d4e5f' });
    const slack = JSON.parse(r.got.find((g) => g.path === SECRET_PATH)!.body);
    expect(slack.text).toContain('loop-api rollback succeeded');
    expect(r.got[0]!.headers['user-agent']).toBe('loop-ops-mcp');
    expect(n.stats).toMatchObject({ delivered: 2, failed: 0 });
  });

  it('retries a 503 and a 429, then delivers', async () => {
    const r = await receiver([503, 429, 204]);
    const { n, hub } = notifier([{ url: `${r.base}/hook`, format: 'json' }], { retries: 3 });
    hub.finished(finished());
    expect(await n.drain(10_000)).toBe(true);
    expect(r.got).toHaveLength(3);
    expect(n.stats).toMatchObject({ delivered: 1, failed: 0 });
  });

  it('does not retry a 4xx that will not get better, and logs the webhook by origin only', async () => {
    const r = await receiver([404]);
    const { n, hub, lines } = notifier([{ url: `${r.base}${SECRET_PATH}`, format: 'slack' }], { retries: 3 });
    hub.finished(finished());
    await n.drain(10_000);
    expect(r.got).toHaveLength(1);
    expect(n.stats).toMatchObject({ delivered: 0, failed: 1 });
    const log = lines.join('\n');
    expect(log).toContain('webhook not delivered');
    expect(log).toContain(`${r.base}/…`);
    expect(log).not.toContain('XyzSecretToken123');
    expect(log).not.toContain('T0SECRET1');
  });

  it('gives up after the bounded retries on a refused connection, without the URL in any log line', async () => {
    const r = await receiver([200]);
    const url = `${r.base}/topic-SuperSecretTopic42`;
    await new Promise((res) => servers.pop()!.close(res)); // nothing listens there now
    const { n, hub, lines } = notifier([{ url, format: 'ntfy' }], { retries: 2 });
    hub.finished(finished({ outcome: 'failed', message: 'health gate failed' }));
    await n.drain(10_000);
    expect(n.stats).toMatchObject({ delivered: 0, failed: 1 });
    const warn = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'webhook not delivered');
    expect(warn).toMatchObject({ attempts: 3, error: 'ECONNREFUSED' });
    expect(lines.join('\n')).not.toContain('SuperSecretTopic42');
  });

  it('never blocks the operation: the event returns at once while the receiver hangs; the queue is bounded; drain gives up', async () => {
    const r = await receiver(['hang']);
    const { n, hub, lines } = notifier([{ url: `${r.base}/hook`, format: 'json' }], { retries: 0, queueMax: 2, concurrency: 1, timeoutMs: 30_000 });
    for (let i = 0; i < 4; i++) hub.finished(finished({ operationId: `op-${i}` }));
    // Nothing was sent yet when the engine's calls returned: notices are built and posted later.
    expect(r.got).toHaveLength(0);
    await new Promise((res) => setTimeout(res, 200));
    expect(n.stats.dropped).toBe(1);
    expect(lines.join('\n')).toContain('webhook queue full');
    expect(await n.drain(300)).toBe(false);
    expect(lines.join('\n')).toContain('given up');
  });
});

describe('notifier parts', () => {
  it('retries network errors, 408, 429 and 5xx only', () => {
    expect([408, 429, 500, 503].every(retryable)).toBe(true);
    expect([400, 401, 403, 404, 410].some(retryable)).toBe(false);
  });

  it('backoff doubles per retry, with jitter within ±25 %, capped', () => {
    expect([1, 2, 3].map((n) => backoffDelay(n, 1000, () => 0.5))).toEqual([1000, 2000, 4000]);
    expect(backoffDelay(1, 1000, () => 0)).toBe(750);
    expect(backoffDelay(1, 1000, () => 1)).toBe(1250);
    expect(backoffDelay(20, 1000, () => 0.5)).toBe(60_000);
  });

  it('Retry-After in seconds or as a date, bounded', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5_000)).toBe(5_000);
    expect(retryAfterMs('99999')).toBe(60_000);
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs('soon')).toBeUndefined();
  });

  it('versions: after a restart the one that served before serves after', () => {
    expect(noticeOf(finished({ kind: 'restart', fromColor: 'blue', toColor: 'blue', version: null }), '1.0.0')).toMatchObject({ fromVersion: '1.0.0', toVersion: '1.0.0' });
    expect(noticeOf(finished({ version: '1.0.0' }), '1.1.0')).toMatchObject({ fromVersion: '1.1.0', toVersion: '1.0.0' });
  });

  it('a listener that throws does not reach the engine', () => {
    const { log, lines } = memoryLogger();
    const hub = new OperationEventHub(log);
    hub.subscribe({ finished: () => { throw new Error('boom'); } });
    expect(() => hub.finished(finished())).not.toThrow();
    expect(lines.join('\n')).toContain('an operation event listener failed');
  });
});

/**
 * Continuous traffic through the sandbox's nginx front while something
 * happens: counts every request that did not answer 200 and records the
 * versions served. Bounded: stops when told, or after `maxMs`.
 */
import { Agent, request } from 'node:http';

export interface LoadReport {
  requests: number;
  failures: number;
  /**
   * Requests whose connection nginx closed before answering anything, sent
   * once more on a fresh connection, as HTTP clients may for an idempotent
   * GET (RFC 9110 §9.2.2). At a reload an old worker closes its idle
   * connections: kept-alive ones being reused at that instant, and ones it
   * has just accepted whose request it has not read yet. Nothing was
   * processed; a failure of the retry counts.
   */
  retriedOnReusedConnection: number;
  failureSamples: string[];
  /** Versions in the order they were first seen. */
  versions: string[];
  /** The version answered by the last request. */
  lastVersion: string | undefined;
}

/**
 * `paceMs`: each worker waits this long after an answer before its next request (default 20:
 * 4 workers send ~130 requests a second). Flat out, 4 workers reach ~700 a second here, each one
 * a shell forked by the sample app: two cores spent on traffic instead of on the operation under
 * test and on the other lanes' tests. At that rate a cut-over (a reload, a swap) still meets
 * dozens of requests in flight.
 */
export function startLoad(frontUrl: string, opts: { concurrency?: number; path?: string; maxMs?: number; paceMs?: number } = {}) {
  const url = new URL(opts.path ?? '/health', frontUrl);
  // Keep-alive like a browser or an API client: connections survive nginx reloads gracefully.
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  const report: LoadReport = { requests: 0, failures: 0, retriedOnReusedConnection: 0, failureSamples: [], versions: [], lastVersion: undefined };
  let stopped = false;
  const deadline = Date.now() + (opts.maxMs ?? 300_000);

  const once = (retry = true): Promise<void> =>
    new Promise<void>((resolve) => {
      // Each attempt ends exactly once, whichever of end / cut-off / error comes first.
      let settled = false;
      const settle = (count: () => void) => {
        if (settled) return;
        settled = true;
        count();
        resolve();
      };
      const fail = (why: string) =>
        settle(() => {
          report.requests++;
          report.failures++;
          if (report.failureSamples.length < 10) report.failureSamples.push(why);
        });
      // The retry goes on a fresh connection (agent: false), as its doc says: through the pool it
      // could pick another idle connection the same old nginx worker is closing at that instant.
      const req = request(url, { agent: retry ? agent : false, timeout: 5_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          settle(() => {
            report.requests++;
            if (res.statusCode !== 200) {
              report.failures++;
              if (report.failureSamples.length < 10) report.failureSamples.push(`HTTP ${res.statusCode}: ${body.slice(0, 100)}`);
            } else {
              const v = /"version":"([^"]+)"/.exec(body)?.[1];
              if (v) {
                report.lastVersion = v;
                if (!report.versions.includes(v)) report.versions.push(v);
              }
            }
          }),
        );
        // A response cut off mid-body (the server went away while answering) never ends: without
        // this the worker would wait forever. 'close' after a normal 'end' finds the attempt settled.
        res.on('error', () => undefined);
        res.on('close', () => fail(`HTTP ${res.statusCode}: response cut off before its end`));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        if (settled) return;
        // Closed by an old nginx worker before it read the request (see retriedOnReusedConnection).
        if (retry && /socket hang up|ECONNRESET/.test(e.message)) {
          settled = true;
          report.retriedOnReusedConnection++;
          void once(false).then(resolve);
          return;
        }
        fail(`${e.message}${req.reusedSocket ? ' (on a reused connection)' : ''}${retry ? '' : ' (the retry)'}`);
      });
      req.end();
    });

  const paceMs = opts.paceMs ?? 20;
  const workers = Array.from({ length: opts.concurrency ?? 4 }, async () => {
    while (!stopped && Date.now() < deadline) {
      await once();
      if (paceMs > 0 && !stopped) await new Promise((r) => setTimeout(r, paceMs));
    }
  });

  return {
    report,
    async stop(label = 'load'): Promise<LoadReport> {
      stopped = true;
      await Promise.all(workers);
      agent.destroy();
      console.info(
        `${label}: ${report.requests} requests, ${report.failures} failed, ${report.retriedOnReusedConnection} retried after the keep-alive race, versions ${report.versions.join(' → ')}`,
      );
      return report;
    },
  };
}

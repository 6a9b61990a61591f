/**
 * The health gate of a recreate app's container. With a hostPort, the
 * blue-green gate itself: GET http://127.0.0.1:<hostPort><healthPath> from
 * the NAS until enough probes answer 2xx. Without one (nothing published),
 * the container's own HEALTHCHECK as Docker reports it; a container without
 * one passes once it is running (and the result says so).
 */
import { describeProbe, waitHealthy } from '../bluegreen/health-gate.js';
import type { HealthGate } from '../bluegreen/types.js';
import type { RecreateServices } from '../services.js';

export interface GateResult {
  ok: boolean;
  attempts: number;
  /** The last probe or Docker health state, in words. */
  last: string;
  /** ms from the start of the gate to its first success (undefined: never). */
  firstOkMs: number | undefined;
  by: 'http' | 'docker-healthcheck' | 'running';
}

/** The deploy health gate from the config. */
export function recreateGate(svc: Pick<RecreateServices, 'config'>): HealthGate {
  const d = svc.config.deploy;
  return { attempts: d.healthAttempts, intervalMs: d.healthIntervalMs, successThreshold: d.healthSuccessThreshold, timeoutMs: d.healthTimeoutMs };
}

/** A short gate for a container that ran a moment ago (the old version, put back). */
export function quickRecreateGate(svc: Pick<RecreateServices, 'config'>): HealthGate {
  const d = svc.config.deploy;
  return { attempts: Math.max(10, Math.ceil(10_000 / d.healthIntervalMs)), intervalMs: Math.min(d.healthIntervalMs, 1_000), successThreshold: 1, timeoutMs: d.healthTimeoutMs };
}

/** What the gate probes, for plans and messages. */
export function gateTarget(svc: Pick<RecreateServices, 'config'>): string {
  const app = svc.config.app;
  return app.hostPort !== undefined ? `GET http://127.0.0.1:${app.hostPort}${app.healthPath} (from the NAS)` : `Docker's HEALTHCHECK status of ${app.name}`;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

export async function waitAppHealthy(
  svc: RecreateServices,
  container: string,
  gate: HealthGate,
  opts: { signal?: AbortSignal; onAttempt?: (n: number, what: string, ok: boolean) => void } = {},
): Promise<GateResult> {
  const app = svc.config.app;
  const t0 = performance.now();
  if (app.hostPort !== undefined) {
    let firstOkMs: number | undefined;
    const h = await waitHealthy(svc.pool, { host: '127.0.0.1', port: app.hostPort, path: app.healthPath }, gate, {
      signal: opts.signal,
      onAttempt: (n, p) => {
        if (p.ok && firstOkMs === undefined) firstOkMs = performance.now() - t0;
        opts.onAttempt?.(n, describeProbe(p), p.ok);
      },
    });
    return { ok: h.ok, attempts: h.attempts, last: h.last ? describeProbe(h.last) : 'no probe', firstOkMs, by: 'http' };
  }
  // No published port: Docker runs the image's HEALTHCHECK inside the container.
  let streak = 0;
  let last = 'not inspected';
  for (let n = 1; n <= gate.attempts; n++) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    const info = await svc.docker.inspect(container, opts.signal);
    const running = info?.state === 'running';
    const ok = running && (info.health === 'healthy' || info.health === 'none');
    last = info ? `${info.state}${info.health !== 'none' ? `/${info.health}` : ' (no HEALTHCHECK)'}` : 'missing';
    opts.onAttempt?.(n, last, ok);
    streak = ok ? streak + 1 : 0;
    if (streak >= gate.successThreshold) return { ok: true, attempts: n, last, firstOkMs: performance.now() - t0, by: info!.health === 'none' ? 'running' : 'docker-healthcheck' };
    // A container that exited will not become healthy by waiting.
    if (info && (info.state === 'exited' || info.state === 'dead')) break;
    if (n < gate.attempts) await sleep(gate.intervalMs, opts.signal);
  }
  return { ok: false, attempts: gate.attempts, last, firstOkMs: undefined, by: 'docker-healthcheck' };
}

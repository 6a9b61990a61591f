/**
 * The health gate of a new color: GET its health path from the NAS (SSH
 * direct-tcpip to 127.0.0.1:<colorPort>) until enough consecutive probes
 * answer 2xx, or the attempts run out.
 *
 * A refused connection, a reset or an empty reply all mean "not ready yet"
 * (docker-proxy accepts and then drops connections while the app inside is
 * not listening): they count as failed attempts, never as errors.
 */
import { ExecAbortedError } from '../ssh/errors.js';
import type { SshPool } from '../ssh/pool.js';
import { probeFromNas, type HttpProbe } from '../ssh/nas-http.js';
import type { HealthGate } from './types.js';

export interface HealthTarget {
  host: string;
  port: number;
  path: string;
}

export interface HealthGateResult {
  ok: boolean;
  attempts: number;
  last: HttpProbe | undefined;
  elapsedMs: number;
}

export type ProbeVerdict = 'healthy' | 'unhealthy' | 'not_listening' | 'timeout';

/** What a probe means for the gate, for progress messages. */
export function probeVerdict(p: HttpProbe): ProbeVerdict {
  if (p.ok) return 'healthy';
  if (p.status !== undefined) return 'unhealthy';
  if (p.error && /no answer within/i.test(p.error)) return 'timeout';
  return 'not_listening';
}

/** One line for a probe: "200 in 12 ms", "HTTP 500: {…}", "not listening yet (socket hang up)". */
export function describeProbe(p: HttpProbe): string {
  switch (probeVerdict(p)) {
    case 'healthy':
      return `${p.status} in ${Math.round(p.latencyMs)} ms`;
    case 'unhealthy':
      return `HTTP ${p.status}${p.body ? `: ${p.body.slice(0, 200)}` : ''}`;
    case 'timeout':
      return p.error ?? 'timed out';
    case 'not_listening':
      return `not listening yet (${p.error ?? 'no reply'})`;
  }
}

function validateGate(gate: HealthGate): void {
  const intOk = (n: number, min: number) => Number.isInteger(n) && n >= min;
  if (!intOk(gate.attempts, 1)) throw new Error(`health gate: attempts must be an integer ≥ 1 (got ${gate.attempts})`);
  if (!intOk(gate.successThreshold, 1)) throw new Error(`health gate: successThreshold must be an integer ≥ 1 (got ${gate.successThreshold})`);
  if (!(gate.intervalMs >= 0)) throw new Error(`health gate: intervalMs must be ≥ 0 (got ${gate.intervalMs})`);
  if (!(gate.timeoutMs > 0)) throw new Error(`health gate: timeoutMs must be > 0 (got ${gate.timeoutMs})`);
}

const aborted = () => new ExecAbortedError('the health check was cancelled');

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(aborted());
    const onAbort = () => {
      clearTimeout(t);
      reject(aborted());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Probes up to `gate.attempts` times; probes start `gate.intervalMs` apart
 * (the first at once; a probe slower than the interval is followed at once).
 * Resolves ok when `gate.successThreshold` consecutive probes were 2xx.
 * Rejects with ExecAbortedError when the signal aborts.
 */
export async function waitHealthy(
  pool: SshPool,
  target: HealthTarget,
  gate: HealthGate,
  opts: { signal?: AbortSignal; onAttempt?: (n: number, probe: HttpProbe) => void } = {},
): Promise<HealthGateResult> {
  validateGate(gate);
  const { signal } = opts;
  const t0 = performance.now();
  let last: HttpProbe | undefined;
  let streak = 0;
  for (let n = 1; n <= gate.attempts; n++) {
    if (signal?.aborted) throw aborted();
    const started = performance.now();
    last = await probeFromNas(pool, target.host, target.port, target.path, gate.timeoutMs, signal);
    if (signal?.aborted) throw aborted();
    try {
      opts.onAttempt?.(n, last);
    } catch {
      /* an observer's failure does not fail the gate */
    }
    streak = last.ok ? streak + 1 : 0;
    if (streak >= gate.successThreshold) {
      return { ok: true, attempts: n, last, elapsedMs: performance.now() - t0 };
    }
    if (n < gate.attempts) await sleep(Math.max(0, gate.intervalMs - (performance.now() - started)), signal);
  }
  return { ok: false, attempts: gate.attempts, last, elapsedMs: performance.now() - t0 };
}

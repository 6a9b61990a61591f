/**
 * Small pieces every operation uses: the health gate from the config, the
 * live color from the upstream in place, the last log lines of a container,
 * the verification through the front, and running a RemoteCommand.
 */
import type { Services } from '../../services.js';
import { probeFromNas, type HttpProbe } from '../../ssh/nas-http.js';
import type { ExecResult } from '../../ssh/pool.js';
import type { RemoteCommand } from '../commands.js';
import { readUpstream } from '../nginx.js';
import { OperationError } from '../operation.js';
import type { HealthGate, ProgressFn } from '../types.js';
import type { Color } from '../../domain/index.js';

/** Sleeps `ms`, or less if the signal aborts (then resolves: the caller's next step sees the abort). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      r();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/** The deploy health gate from the config. */
export function configGate(svc: Services): HealthGate {
  const d = svc.config.deploy;
  return { attempts: d.healthAttempts, intervalMs: d.healthIntervalMs, successThreshold: d.healthSuccessThreshold, timeoutMs: d.healthTimeoutMs };
}

/** A short gate for a container that should already be up (rollback to a running color, recovery checks). */
export function quickGate(svc: Services): HealthGate {
  return { attempts: 3, intervalMs: 300, successThreshold: 1, timeoutMs: svc.config.deploy.healthTimeoutMs };
}

/** Where a color answers on the NAS. */
export function colorTarget(svc: Services, color: Color) {
  const app = svc.config.app;
  return { host: '127.0.0.1', port: app.colorPorts[color], path: app.healthPath };
}

/** The live color from the upstream in place; refuses to guess. */
export async function liveColor(svc: Services, signal?: AbortSignal): Promise<Color> {
  const up = await readUpstream(svc.pool, svc.config, signal);
  if (!up.info.color) {
    const app = svc.config.app;
    throw new OperationError(
      `the live color is unknown: ${svc.config.nginx.upstreamFile} ${up.text === undefined ? 'is missing' : `names ${up.info.servers.join(', ') || 'no server'}`}`,
      `Point the upstream at one color's port (${app.colorPorts.blue} blue, ${app.colorPorts.green} green) and run status again.`,
    );
  }
  return up.info.color;
}

export async function lastLogs(svc: Services, container: string, lines = 20): Promise<string[]> {
  try {
    const l = await svc.docker.logs(container, { stdout: true, stderr: true, tail: lines, timestamps: false });
    return l.map((x) => (x.stream === 'stderr' ? `[err] ${x.text}` : x.text));
  } catch {
    return [];
  }
}

export function describeProbe(p: HttpProbe | undefined): string {
  if (!p) return 'no probe';
  if (p.status !== undefined) return `HTTP ${p.status}${p.body ? `: ${p.body.slice(0, 80)}` : ''}`;
  return p.error ?? 'no answer';
}

/** Probes the front for `seconds`; two failures in a row fail it. */
export async function verifyFront(
  svc: Services,
  seconds: number,
  intervalMs: number,
  progress: ProgressFn,
  signal?: AbortSignal,
): Promise<{ ok: boolean; last: HttpProbe | undefined }> {
  const app = svc.config.app;
  const end = Date.now() + seconds * 1000;
  let failures = 0;
  let last: HttpProbe | undefined;
  let n = 0;
  do {
    last = await probeFromNas(svc.pool, '127.0.0.1', app.frontPort, app.healthPath, svc.config.deploy.healthTimeoutMs, signal);
    n++;
    failures = last.ok ? 0 : failures + 1;
    if (failures >= 2) return { ok: false, last };
    if (n % 10 === 1) progress(`verify through the front: ${last.ok ? 'ok' : describeProbe(last)}`);
    if (Date.now() >= end) break;
    await sleep(intervalMs, signal);
  } while (Date.now() < end);
  return { ok: failures === 0, last };
}

/** Probes of a confirmation: this many 2xx in a row confirm; as many failures in a row refute. */
export const CONFIRM_PROBES = 2;
const CONFIRM_MAX_PROBES = 6;

/** The color a health body names (`"color":"blue"` in a JSON body), if it names one of ours. */
export function bodyColor(body: string): Color | undefined {
  try {
    const c = (JSON.parse(body) as { color?: unknown } | null)?.color;
    return c === 'blue' || c === 'green' ? c : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Confirms through the front that `color` answers, instead of watching a
 * window. Only sound once nginx's old workers were seen to stop accepting
 * (SwitchResult.cutoverMs): each probe is a new connection, so a worker of
 * the new configuration takes it, and that configuration names only
 * `color`'s port. CONFIRM_PROBES answers 2xx in a row confirm; a body that
 * names the other color refutes at once; CONFIRM_PROBES failures in a row
 * (or no confirmation within CONFIRM_MAX_PROBES) refute.
 */
export async function confirmFront(
  svc: Services,
  color: Color,
  progress: ProgressFn,
  signal?: AbortSignal,
): Promise<{ ok: boolean; last: HttpProbe | undefined; probes: number }> {
  const app = svc.config.app;
  let last: HttpProbe | undefined;
  let good = 0;
  let bad = 0;
  for (let n = 1; n <= CONFIRM_MAX_PROBES; n++) {
    last = await probeFromNas(svc.pool, '127.0.0.1', app.frontPort, app.healthPath, svc.config.deploy.healthTimeoutMs, signal);
    const named = last.ok ? bodyColor(last.body) : undefined;
    if (named && named !== color) {
      progress(`verify through the front: answered by ${named}, not ${color}`);
      return { ok: false, last: { ...last, ok: false, status: undefined, error: `the front answered from ${named}, not ${color} (HTTP ${last.status})` }, probes: n };
    }
    if (last.ok) {
      good++;
      bad = 0;
    } else {
      bad++;
      good = 0;
    }
    if (good >= CONFIRM_PROBES) {
      progress(`verify through the front: ${color} answers (${describeProbe(last)}${named ? `, color ${named}` : ''})`);
      return { ok: true, last, probes: n };
    }
    if (bad >= CONFIRM_PROBES) return { ok: false, last, probes: n };
    if (signal?.aborted) break;
  }
  return { ok: false, last, probes: CONFIRM_MAX_PROBES };
}

/** Runs one built command; `check` turns a non-zero exit into an error. */
export async function runCommand(svc: Services, c: RemoteCommand, opts: { signal?: AbortSignal; check?: boolean } = {}): Promise<ExecResult> {
  const o = { sudo: c.sudo, timeoutMs: c.timeoutMs, signal: opts.signal };
  return opts.check === false ? svc.pool.exec(c.argv, o) : svc.pool.run(c.argv, o);
}

export const msRound = (t: Record<string, number>) => Object.fromEntries(Object.entries(t).map(([k, n]) => [k, Math.round(n)]));

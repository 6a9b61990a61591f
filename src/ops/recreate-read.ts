/**
 * health and logs for a recreate app. health: the app's own port on the NAS
 * (127.0.0.1:<hostPort><healthPath>, through SSH forwarding like every NAS
 * probe) and Docker's health state of `<app>` and `<app>-previous`. logs:
 * those two containers, `<app>` by default.
 */
import { liveName, previousName } from '../recreate/names.js';
import { probeFromNas } from '../ssh/nas-http.js';
import type { HealthCheck } from './health.js';
import { checkLogsRequest, LogsInputError, tailLogs, type LogsRequest, type LogsResult } from './logs.js';
import type { RecreateServices } from '../services.js';

export interface RecreateHealthReport {
  /** `<app>` answered 2xx on its port (or, with no port, Docker says it is healthy or running without a HEALTHCHECK). */
  healthy: boolean;
  checks: HealthCheck[];
  containers: Array<{ role: 'live' | 'previous'; name: string; exists: boolean; state: string | null; dockerHealth: string | null }>;
}

export async function getRecreateHealth(s: RecreateServices, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<RecreateHealthReport> {
  const app = s.config.app;
  const roles = [
    { role: 'live' as const, name: liveName(app.name) },
    { role: 'previous' as const, name: previousName(app.name) },
  ];
  const infos = await Promise.all(roles.map((r) => s.docker.inspect(r.name, opts.signal)));
  const checks: HealthCheck[] = [];
  if (app.hostPort !== undefined) {
    const p = await probeFromNas(s.pool, '127.0.0.1', app.hostPort, app.healthPath, opts.timeoutMs, opts.signal);
    checks.push({ target: app.name, url: `http://127.0.0.1:${app.hostPort}${app.healthPath} (on the NAS)`, ...p });
  }
  const live = infos[0];
  const dockerOk = live?.state === 'running' && (live.health === 'healthy' || live.health === 'none');
  return {
    healthy: app.hostPort !== undefined ? checks[0]!.ok : dockerOk,
    checks,
    containers: roles.map((r, i) => ({ ...r, exists: infos[i] !== undefined, state: infos[i]?.state ?? null, dockerHealth: infos[i]?.health ?? null })),
  };
}

export function recreateHealthText(r: RecreateHealthReport): string {
  const lines = [`overall: ${r.healthy ? 'healthy' : 'UNHEALTHY'}`];
  for (const c of r.checks) lines.push(`${c.target}: ${c.ok ? 'ok' : 'FAIL'} ${c.status ?? '-'} in ${c.latencyMs} ms${c.error ? ' (error: see below)' : ''}`);
  for (const c of r.containers) lines.push(`${c.role}: ${c.name} ${c.exists ? `${c.state}${c.dockerHealth && c.dockerHealth !== 'none' ? `/${c.dockerHealth}` : ''}` : '(no container)'}`);
  return lines.join('\n');
}

/** The containers logs may be read from. */
export const recreateLogContainers = (s: Pick<RecreateServices, 'config'>) => [liveName(s.config.app.name), previousName(s.config.app.name)];

export async function getRecreateLogs(s: RecreateServices, req: LogsRequest, signal?: AbortSignal): Promise<LogsResult> {
  const checked = checkLogsRequest(req);
  const allowed = recreateLogContainers(s);
  const container = req.container ?? allowed[0]!;
  if (!allowed.includes(container)) throw new LogsInputError(`container must be one of: ${allowed.join(', ')}`);
  return tailLogs(s, container, req, checked, signal);
}

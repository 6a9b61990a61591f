/**
 * Health as users and nginx see it: the public URL (from here), nginx's
 * front on the NAS, and each color's own port on the NAS (through SSH
 * forwarding, so no shell or curl is needed there). Probes run in parallel.
 */
import { type Color, colorContainerName, COLORS } from '../domain/index.js';
import { probeFromNas, probeUrl, type HttpProbe } from '../ssh/nas-http.js';
import type { Services } from '../services.js';

export interface HealthCheck extends HttpProbe {
  target: string;
  url: string;
}

export interface HealthReport {
  healthy: boolean;
  checks: HealthCheck[];
  /** Per color: the container's own Docker health state too. */
  containers: Array<{ color: Color; name: string; exists: boolean; state: string | null; dockerHealth: string | null }>;
}

export async function getHealth(s: Services, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<HealthReport> {
  const { config } = s;
  const path = config.app.healthPath;
  const infos = await Promise.all(COLORS.map((c) => s.docker.inspect(colorContainerName(config.app.name, c), opts.signal)));
  const probes: Array<Promise<HealthCheck>> = [];
  if (config.app.publicHealthUrl) {
    const url = config.app.publicHealthUrl;
    probes.push(probeUrl(url, opts.timeoutMs, opts.signal).then((p) => ({ target: 'public', url, ...p })));
  }
  probes.push(
    probeFromNas(s.pool, '127.0.0.1', config.app.frontPort, path, opts.timeoutMs, opts.signal).then((p) => ({
      target: 'front (nginx)',
      url: `http://127.0.0.1:${config.app.frontPort}${path} (on the NAS)`,
      ...p,
    })),
  );
  COLORS.forEach((color, i) => {
    if (infos[i]?.state !== 'running') return; // nothing listens: no point probing
    const port = config.app.colorPorts[color];
    probes.push(
      probeFromNas(s.pool, '127.0.0.1', port, path, opts.timeoutMs, opts.signal).then((p) => ({
        target: color,
        url: `http://127.0.0.1:${port}${path} (on the NAS)`,
        ...p,
      })),
    );
  });
  const checks = await Promise.all(probes);
  return {
    // Healthy = what users reach answers: the public URL if configured, else the front.
    healthy: checks.filter((c) => c.target === 'public' || c.target === 'front (nginx)').every((c) => c.ok),
    checks,
    containers: COLORS.map((color, i) => ({
      color,
      name: colorContainerName(config.app.name, color),
      exists: infos[i] !== undefined,
      state: infos[i]?.state ?? null,
      dockerHealth: infos[i]?.health ?? null,
    })),
  };
}

/**
 * The verdict per check, in our words. What the NAS answered (bodies, error
 * texts) is returned apart, by `healthBodies`, for the caller to show as data.
 */
export function healthText(r: HealthReport): string {
  const lines = [`overall: ${r.healthy ? 'healthy' : 'UNHEALTHY'}`];
  for (const c of r.checks) {
    lines.push(`${c.target}: ${c.ok ? 'ok' : 'FAIL'} ${c.status ?? '-'} in ${c.latencyMs} ms${c.error ? ' (error: see below)' : ''}`);
  }
  for (const c of r.containers) if (!c.exists || c.state !== 'running') lines.push(`${c.color}: ${c.exists ? c.state : 'no container'}`);
  return lines.join('\n');
}

/** Each check's answer body and error text, one line per check that has one ('' when none). */
export function healthBodies(r: HealthReport): string {
  return r.checks
    .filter((c) => c.body || c.error)
    .map((c) => `${c.target}: ${c.error ? `error: ${c.error}` : ''}${c.error && c.body ? '; ' : ''}${c.body ? `body: ${c.body.slice(0, 300)}` : ''}`)
    .join('\n');
}

/**
 * logs on a Swarm target: the service's (every task's, as the manager
 * gathers them) or one task's, chosen by slot (`1`, `2`…) or task id. The
 * Engine's service logs prefix nothing; task logs of a task that has exited
 * still answer (what a failed update needs).
 */
import type { LogLine } from '../docker/index.js';
import type { SwarmContext } from './app.js';

export interface SwarmLogsRequest {
  /** Lines from the end (per task, for the service's logs). */
  tail: number;
  /** A slot number or a task id (prefix of at least 6 characters); the whole service when absent. */
  task?: string;
  /** Unix seconds. */
  since?: number;
  stderr?: boolean;
}

export interface SwarmLogsResult {
  service: string;
  /** `<service>.<slot> <task id>` when one task was read. */
  task: string | null;
  lines: LogLine[];
}

export async function swarmLogs(ctx: SwarmContext, req: SwarmLogsRequest, signal?: AbortSignal): Promise<SwarmLogsResult> {
  const { docker } = ctx.svc;
  const { service } = ctx.app;
  const query = { stdout: true, stderr: req.stderr ?? true, tail: req.tail, since: req.since };
  if (req.task === undefined) {
    return { service, task: null, lines: await docker.serviceLogs(service, query, { signal, maxBytes: 4 * 1024 * 1024 }) };
  }
  const tasks = await docker.serviceTasks(service, signal);
  const byId = /^[a-z0-9]{6,}$/.test(req.task) && !/^\d+$/.test(req.task) ? tasks.filter((t) => t.id.startsWith(req.task!)) : [];
  // A slot names its current task (running or about to), else its newest.
  const bySlot = /^\d+$/.test(req.task)
    ? tasks.filter((t) => String(t.slot) === req.task).sort((a, b) => Number(b.desiredState === 'running') - Number(a.desiredState === 'running') || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
    : [];
  const t = byId[0] ?? bySlot[0];
  if (!t) throw Object.assign(new Error(`no task ${JSON.stringify(req.task)} in service ${service}`), { hint: 'Give a slot number (status lists them as <service>.<slot>) or a task id.' });
  const lines = await docker.taskLogs(t.id, query, { signal, maxBytes: 4 * 1024 * 1024 });
  return { service, task: `${service}.${t.slot ?? '?'} ${t.id.slice(0, 12)}`, lines };
}

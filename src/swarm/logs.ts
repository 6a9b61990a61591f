/**
 * logs on a Swarm target: the service's (every task's, as the manager
 * gathers them) or one task's, chosen by slot (`1`, `2`…) or task id. The
 * Engine's service logs prefix nothing; task logs of a task that has exited
 * still answer (what a failed update needs).
 *
 * Every read is bounded by the app's `logsTimeoutSeconds`: the manager
 * sometimes never ends a non-follow log stream, above all right after an
 * update (moby/moby#38640, docker/cli#4678, moby/swarmkit#1956). The
 * transport cannot hand back what arrived before a timeout, so when the
 * service-wide read does not end in time the logs of each running task are
 * read instead (each bounded the same way, side by side), merged by time and
 * marked `partial` with a note. Worst case about three deadlines (service
 * read, task list, task reads), never the transport's 60 s.
 */
import { DockerError, type LogLine } from '../docker/index.js';
import type { TaskInfo } from '../docker/swarm-requests.js';
import type { SwarmContext } from './app.js';
import { DeadlineExceeded, formatMs, withDeadline } from './deadline.js';

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
  /** True when the service-wide read did not end in time and `lines` are each running task's own (see `note`). */
  partial: boolean;
  /** Why the answer is not the plain read asked for; null when it is. Our words only: it is not fenced. */
  note: string | null;
}

/**
 * A log read that failed in a way the operator can act on. Its message may
 * quote the Docker Engine's words (a task read's error): the tools fence it
 * as NAS text, like a DockerError's.
 */
export class SwarmLogsError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'SwarmLogsError';
  }
}

const MAX_BYTES = 4 * 1024 * 1024;
const KNOWN_ISSUE = 'a known Docker issue after updates';
const SLOW_MANAGER = 'A manager that is only slow may need a larger logsTimeoutSeconds for this app.';

export async function swarmLogs(ctx: SwarmContext, req: SwarmLogsRequest, signal?: AbortSignal): Promise<SwarmLogsResult> {
  const { docker } = ctx.svc;
  const { service } = ctx.app;
  const deadlineMs = ctx.app.logsTimeoutSeconds * 1000;
  const query = { stdout: true, stderr: req.stderr ?? true, tail: req.tail, since: req.since };
  if (req.task === undefined) {
    try {
      const lines = await withDeadline(`the logs of service ${service}`, deadlineMs, signal, (s) => docker.serviceLogs(service, query, { signal: s, maxBytes: MAX_BYTES }));
      return { service, task: null, lines, partial: false, note: null };
    } catch (e) {
      if (!(e instanceof DeadlineExceeded)) throw e;
      return runningTasksLogs(ctx, req, deadlineMs, signal);
    }
  }
  const tasks = await listTasks(ctx, deadlineMs, signal, `Docker did not list the tasks of ${service}`);
  const byId = /^[a-z0-9]{6,}$/.test(req.task) && !/^\d+$/.test(req.task) ? tasks.filter((t) => t.id.startsWith(req.task!)) : [];
  // A slot names its current task (running or about to), else its newest.
  const bySlot = /^\d+$/.test(req.task)
    ? tasks.filter((t) => String(t.slot) === req.task).sort((a, b) => Number(b.desiredState === 'running') - Number(a.desiredState === 'running') || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
    : [];
  const t = byId[0] ?? bySlot[0];
  if (!t) throw Object.assign(new Error(`no task ${JSON.stringify(req.task)} in service ${service}`), { hint: 'Give a slot number (status lists them as <service>.<slot>) or a task id.' });
  const name = taskName(service, t);
  try {
    const lines = await withDeadline(`the logs of task ${name}`, deadlineMs, signal, (s) => docker.taskLogs(t.id, query, { signal: s, maxBytes: MAX_BYTES }));
    return { service, task: name, lines, partial: false, note: null };
  } catch (e) {
    if (!(e instanceof DeadlineExceeded)) throw e;
    throw new SwarmLogsError(
      `Docker did not end the log stream of task ${name} within ${formatMs(deadlineMs)} (${KNOWN_ISSUE})`,
      `Retry in a few seconds, or read the service's logs (without container); status shows the task's state. ${SLOW_MANAGER}`,
    );
  }
}

const taskName = (service: string, t: TaskInfo) => `${service}.${t.slot ?? '?'} ${t.id.slice(0, 12)}`;

async function listTasks(ctx: SwarmContext, deadlineMs: number, signal: AbortSignal | undefined, failure: string): Promise<TaskInfo[]> {
  const { service } = ctx.app;
  try {
    return await withDeadline(`the tasks of ${service}`, deadlineMs, signal, (s) => ctx.svc.docker.serviceTasks(service, s));
  } catch (e) {
    if (!(e instanceof DeadlineExceeded)) throw e;
    throw new SwarmLogsError(`${failure} within ${formatMs(deadlineMs)}`, `Retry in a few seconds; check the manager with status. ${SLOW_MANAGER}`);
  }
}

/** The fallback: each running task's logs, read side by side, each bounded, merged by time. */
async function runningTasksLogs(ctx: SwarmContext, req: SwarmLogsRequest, deadlineMs: number, signal: AbortSignal | undefined): Promise<SwarmLogsResult> {
  const { service } = ctx.app;
  const stuck = `Docker did not end the service log stream within ${formatMs(deadlineMs)} (${KNOWN_ISSUE})`;
  const hint = `Retry in a few seconds (the manager usually recovers once the update has settled), or read one task with container: <slot>; status shows the tasks. ${SLOW_MANAGER}`;
  const all = await listTasks(ctx, deadlineMs, signal, `${stuck}, and did not list the service's tasks either`);
  const running = all.filter((t) => t.desiredState === 'running').sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0));
  if (running.length === 0) throw new SwarmLogsError(`${stuck}, and service ${service} has no running task to read instead`, hint);
  // Timestamps only to merge the tasks' lines in time order; stripped again after.
  const query = { stdout: true, stderr: req.stderr ?? true, tail: req.tail, since: req.since, timestamps: true };
  const reads = await Promise.allSettled(
    running.map((t) => withDeadline(`the logs of task ${taskName(service, t)}`, deadlineMs, signal, (s) => ctx.svc.docker.taskLogs(t.id, query, { signal: s, maxBytes: MAX_BYTES }))),
  );
  // The caller cancelled: that is the answer, not a fallback failure.
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
  const read: Array<{ name: string; lines: LogLine[] }> = [];
  // `brief` is ours only (the note is not fenced); `detail` may quote the Engine (the error is).
  const failed: Array<{ brief: string; detail: string }> = [];
  reads.forEach((r, i) => {
    const name = taskName(service, running[i]!);
    if (r.status === 'fulfilled') read.push({ name, lines: r.value.slice(-req.tail) });
    else failed.push({ brief: `${name} (${whyUnread(r.reason, deadlineMs)})`, detail: `${name}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}` });
  });
  if (read.length === 0) throw new SwarmLogsError(`${stuck}, and the logs of its running tasks could not be read either: ${failed.map((f) => f.detail).join('; ')}`, hint);
  const note =
    `${stuck}; these are the logs of each running task (${read.map((r) => r.name.split(' ')[0]).join(', ')}), at most ${req.tail} line(s) each, merged by time` +
    (failed.length ? `; not read: ${failed.map((f) => f.brief).join(', ')}` : '');
  return { service, task: null, lines: mergeByTime(read.map((r) => r.lines)), partial: true, note };
}

function whyUnread(e: unknown, deadlineMs: number): string {
  if (e instanceof DeadlineExceeded) return `did not answer within ${formatMs(deadlineMs)}`;
  if (e instanceof DockerError) return `Docker refused the read, HTTP ${e.status}`;
  return 'the read failed';
}

// Docker's RFC 3339 timestamp prefix (`timestamps=1`): fraction of 0-9 digits, Z or an offset.
const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) /;

/**
 * One list, oldest first, from several tasks' lines that carry Docker's
 * timestamp prefix, which is removed. A line without one keeps its place
 * after the line before it (same task); ties keep the tasks' order.
 */
export function mergeByTime(perTask: LogLine[][]): LogLine[] {
  const keyed: Array<{ key: string; line: LogLine }> = [];
  for (const lines of perTask) {
    let key = '';
    for (const l of lines) {
      const m = STAMP.exec(l.text);
      if (m) {
        const ms = Date.parse(`${m[1]}${m[3]}`);
        // Fixed-width key: sortable as text whatever the fraction's length.
        if (!Number.isNaN(ms)) key = `${String(ms).padStart(15, '0')}.${(m[2] ?? '').padEnd(9, '0')}`;
        keyed.push({ key, line: { ...l, text: l.text.slice(m[0].length) } });
      } else keyed.push({ key, line: l });
    }
  }
  // Array.prototype.sort is stable: equal keys keep the order pushed above.
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((k) => k.line);
}

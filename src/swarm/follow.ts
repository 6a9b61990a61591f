/**
 * Following a service update to its end. The manager does the rolling
 * update (start a new task, wait until it is running — healthy, if the image
 * has a HEALTHCHECK —, watch it for the monitor window, stop an old one, next
 * slot); we only watch its UpdateStatus and the tasks, tell each change as
 * progress, and report how it ended.
 *
 * An update we asked for is recognised by its UpdateStatus.StartedAt
 * differing from the one read before the request: right after the request
 * the manager may still show the previous update's (finished) status, or
 * none at all (a plain update clears it until the updater starts).
 */
import type { DockerEngine, ServiceInfo, TaskInfo, UpdateState } from '../docker/index.js';
import { sleep } from '../bluegreen/operations/shared.js';

export type UpdateEnd =
  /** Every task runs the new spec. */
  | 'completed'
  /** A new task failed (health, exit) within the monitor window: the manager put the previous spec back. */
  | 'rolled_back'
  /** The update (or its rollback) stopped half-way: tasks of both specs may run. */
  | 'paused'
  /** We stopped watching (timeout or abort); the manager carries on. */
  | 'unknown';

export interface FollowResult {
  end: UpdateEnd;
  /** The final UpdateStatus, as the manager wrote it. */
  status: UpdateState | null;
  service: ServiceInfo;
  tasks: TaskInfo[];
}

export interface FollowOptions {
  /** UpdateStatus.StartedAt before the request (null if none). */
  startedBefore: string | null;
  /** The image the update moves to: tasks of it are "new" in the progress lines. */
  image?: string;
  progress: (message: string) => void;
  signal: AbortSignal;
  timeoutMs: number;
  pollMs?: number;
}

/** The end an UpdateStatus state stands for; null while it still moves. */
export function endOf(state: string): UpdateEnd | null {
  switch (state) {
    case 'completed':
      return 'completed';
    case 'rollback_completed':
      return 'rolled_back';
    case 'paused':
    case 'rollback_paused':
      return 'paused';
    default:
      return null;
  }
}

/** One line a person (or a model) reads: "task loop-api.2 abc123def456 (loop-api:…): starting → running". */
export function taskLine(service: string, t: TaskInfo, before: string | undefined): string {
  const err = t.error ? ` — ${t.error}` : '';
  return `task ${service}.${t.slot ?? '?'} ${t.id.slice(0, 12)} (${t.image}): ${before ? `${before} → ` : ''}${t.state}${err}`;
}

/** Every slot runs a task of `image` (and nothing else is still starting): the update is done even if no status says so. */
export function allOn(tasks: TaskInfo[], image: string | undefined, replicas: number | null): boolean {
  if (!image) return false;
  const live = tasks.filter((t) => t.desiredState === 'running');
  if (replicas !== null && live.filter((t) => t.state === 'running').length < replicas) return false;
  return live.length > 0 && live.every((t) => t.image === image && t.state === 'running');
}

export async function followUpdate(docker: DockerEngine, serviceName: string, o: FollowOptions): Promise<FollowResult> {
  const deadline = Date.now() + o.timeoutMs;
  const seen = new Map<string, string>();
  let lastStatus = '';
  let quietPolls = 0;
  let service: ServiceInfo | undefined;
  let tasks: TaskInfo[] = [];
  for (let first = true; ; first = false) {
    if (!first) await sleep(o.pollMs ?? 500, o.signal);
    if (o.signal.aborted) break;
    [service, tasks] = await Promise.all([docker.inspectService(serviceName, o.signal), docker.serviceTasks(serviceName, o.signal)]);
    if (!service) throw new Error(`service ${serviceName} disappeared during its update`);
    // Progress: each task's state change, and the manager's own message.
    for (const t of tasks) {
      const prev = seen.get(t.id);
      if (prev === t.state) continue;
      seen.set(t.id, t.state);
      // Tasks that were already at rest before the update are not news.
      if (first && (t.desiredState !== 'running' || t.state === 'running') && t.image !== o.image) continue;
      o.progress(taskLine(serviceName, t, prev));
    }
    const st = service.updateStatus;
    const ours = st !== null && st.startedAt !== o.startedBefore;
    if (ours) {
      const line = `${st.state}${st.message ? `: ${st.message}` : ''}`;
      if (line !== lastStatus) {
        lastStatus = line;
        o.progress(`update ${line}`);
      }
      const end = endOf(st.state);
      if (end) return { end, status: st, service, tasks };
    } else if (allOn(tasks, o.image, service.replicas)) {
      // No status of ours yet, but the tasks already are where we wanted them: a few quiet polls settle it.
      if (++quietPolls >= 6) return { end: 'completed', status: st, service, tasks };
    }
    if (Date.now() > deadline) break;
  }
  return { end: 'unknown', status: service?.updateStatus ?? null, service: service!, tasks };
}

/**
 * The task that made an update fail: the newest task of the new image that
 * is not running (failed health, exited, rejected) and had a container — the
 * manager may also have made a replacement that the rollback shut down
 * before it ever started, whose logs are empty. Its logs say why.
 */
export function failingTask(tasks: TaskInfo[], image: string | undefined): TaskInfo | undefined {
  const candidates = tasks
    .filter((t) => (image === undefined || t.image === image) && t.state !== 'running')
    .sort((a, b) => Number(b.containerId !== null) - Number(a.containerId !== null) || (b.since ?? '').localeCompare(a.since ?? ''));
  return candidates[0];
}

/**
 * One service update, start to end, shared by deploy, rollback and restart:
 * read the service, send the changed spec at the version read (once more on
 * a concurrent change), follow the manager's rolling update, and on failure
 * gather the failing task's last log lines and health output.
 */
import type { RawServiceSpec, ServiceInfo, TaskInfo } from '../docker/index.js';
import { DockerError } from '../docker/index.js';
import type { OperationContext } from '../bluegreen/operation.js';
import { failingTask, followUpdate, type FollowResult } from './follow.js';
import type { SwarmContext } from './app.js';

export interface UpdateRequest {
  /** The new spec from the current one (a plain update), or a server-side rollback to the previous spec. */
  change: { spec: (current: ServiceInfo) => RawServiceSpec } | { rollback: true };
  /** The image the update moves to, when known (progress, failing task, completion without a status). */
  image?: (current: ServiceInfo) => string | undefined;
}

export interface UpdateOutcome extends FollowResult {
  before: ServiceInfo;
  timingsMs: { update: number };
}

/** What a failed update reports beside its message. */
export interface FailedTaskReport {
  task: string | null;
  image: string | null;
  state: string | null;
  error: string | null;
  healthOutput: string | null;
  lastLogLines: string[];
}

export class ServiceMissingError extends Error {
  readonly hint: string;
  constructor(service: string) {
    super(`service ${service} does not exist on the Swarm manager`);
    this.hint = 'Create the service once (docker service create …, see README "Swarm target"); deploys update it.';
  }
}

const isOutOfSequence = (e: unknown) => e instanceof DockerError && /out of sequence/i.test(e.message);

export async function updateService<P extends string>(ctx: SwarmContext, op: OperationContext<P>, req: UpdateRequest): Promise<UpdateOutcome> {
  const { docker } = ctx.svc;
  const { app } = ctx;
  const t0 = performance.now();
  let before: ServiceInfo | undefined;
  for (let attempt = 0; ; attempt++) {
    before = await docker.inspectService(app.service, op.signal);
    if (!before) throw new ServiceMissingError(app.service);
    const spec = 'rollback' in req.change ? before.spec : req.change.spec(before);
    try {
      const warnings = await docker.updateService(before.id, before.version, spec, { rollback: 'rollback' in req.change, signal: op.signal });
      for (const w of warnings) op.progress(`swarm: ${w}`);
      break;
    } catch (e) {
      // Someone changed the service between our read and our write: read again, once.
      if (attempt === 0 && isOutOfSequence(e)) continue;
      throw e;
    }
  }
  const image = req.image?.(before);
  const r = await followUpdate(docker, app.service, {
    startedBefore: before.updateStatus?.startedAt ?? null,
    image,
    progress: op.progress,
    signal: op.signal,
    timeoutMs: app.updateTimeoutSeconds * 1000,
  });
  return { ...r, before, timingsMs: { update: Math.round(performance.now() - t0) } };
}

/** The failing task of an update that did not complete: its state, error, health output and last log lines. */
export async function failedTaskReport(ctx: SwarmContext, tasks: TaskInfo[], image: string | undefined, signal?: AbortSignal): Promise<FailedTaskReport> {
  const { docker } = ctx.svc;
  const t = failingTask(tasks, image);
  if (!t) return { task: null, image: image ?? null, state: null, error: null, healthOutput: null, lastLogLines: [] };
  // Bounded: the report must not wait long on a node that is gone.
  const bound = AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]);
  const [lines, container] = await Promise.all([
    docker.taskLogs(t.id, { stdout: true, stderr: true, tail: 20 }, { signal: bound, maxBytes: 256 * 1024 }).catch(() => []),
    t.containerId ? docker.inspect(t.containerId, bound).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  return {
    task: `${ctx.app.service}.${t.slot ?? '?'} ${t.id.slice(0, 12)}`,
    image: t.image,
    state: t.state,
    error: t.error,
    healthOutput: container?.lastHealthOutput ?? null,
    lastLogLines: lines.map((l) => l.text.slice(0, 500)),
  };
}

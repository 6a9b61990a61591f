/**
 * `status` of a Swarm app, shaped like the single-host status so a model
 * reads both the same way: what is live (image, version, commit), whether it
 * is healthy (replicas running of desired, each task's node, state and
 * health), whether an operation is running or was cut off (lock, journal),
 * and the recent history — plus what only Swarm has: an update in progress
 * and the spec a rollback returns to.
 */
import { LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION, historyFile, journalFile, lockDetailsFile, lockDir, parseJson, parseJsonLines } from '../domain/index.js';
import { formatDuration, type DeploymentRecord, type JournalInfo, type LockInfo } from '../ops/status.js';
import { readSmallFiles, remoteExists } from '../ssh/files.js';
import { updateInProgress, type UpdateState } from '../docker/swarm-requests.js';
import type { NodeInfo, TaskInfo } from '../docker/index.js';
import type { SwarmContext } from './app.js';

export interface SwarmTaskSummary {
  /** `<service>.<slot>`, like the CLI's task names. */
  name: string;
  id: string;
  node: string | null;
  state: string;
  desiredState: string;
  /** healthy | unhealthy | starting | none (no HEALTHCHECK) | unknown (task on another node). */
  health: string;
  image: string;
  version: string | null;
  since: string | null;
  uptimeSeconds: number | null;
  error: string | null;
}

export interface SwarmAppStatus {
  app: string;
  driver: 'swarm';
  service: string;
  /** Whether the service exists on the manager. */
  exists: boolean;
  /** What runs (the service spec's image) and its labels. */
  live: { image: string | null; version: string | null; commit: string | null; deploymentId: string | null };
  replicas: { desired: number | null; running: number; healthy: number };
  tasks: SwarmTaskSummary[];
  /** Tasks of the last hour that failed or were rejected (newest first, a few). */
  recentFailedTasks: SwarmTaskSummary[];
  update: (UpdateState & { inProgress: boolean }) | null;
  /** What `rollback` returns to (the service's previous spec). */
  previous: { image: string; version: string | null } | null;
  updatePolicy: { order: string; failureAction: string; monitorSeconds: number; parallelism: number } | null;
  endpointMode: string;
  nodes: NodeInfo[];
  frontUrl: string | null;
  lock: LockInfo;
  interruptedOperation: JournalInfo | null;
  recentDeployments: DeploymentRecord[];
  warnings: string[];
  checkedAt: string;
}

const NO_LOCK: LockInfo = { held: false, holder: null, operation: null, since: null, operationId: null, host: null, pid: null, heartbeatAt: null };

export function parseLock(text: string | undefined, dirExists: boolean): LockInfo {
  const raw = parseJson<Record<string, unknown>>(text);
  const str = (k: string) => (typeof raw?.[k] === 'string' ? (raw[k] as string) : null);
  if (raw) {
    return {
      held: true,
      holder: str('holder'),
      operation: str('operation'),
      since: str('since'),
      operationId: str('operationId'),
      host: str('host'),
      pid: typeof raw.pid === 'number' ? raw.pid : null,
      heartbeatAt: str('heartbeatAt'),
    };
  }
  return dirExists ? { ...NO_LOCK, held: true, holder: 'unknown (lock details missing or unreadable)' } : NO_LOCK;
}

/** Task state + container health → the summary line's fields. */
export function summarizeTask(
  service: string,
  t: TaskInfo,
  o: { health?: string; nodeName?: string | null; versionOf?: (image: string) => string | null; now?: number },
): SwarmTaskSummary {
  const now = o.now ?? Date.now();
  const running = t.state === 'running' && t.since !== null;
  return {
    name: `${service}.${t.slot ?? '?'}`,
    id: t.id.slice(0, 12),
    node: o.nodeName ?? t.nodeId,
    state: t.state,
    desiredState: t.desiredState,
    health: o.health ?? (t.state === 'starting' ? 'starting' : 'unknown'),
    image: t.image,
    version: o.versionOf?.(t.image) ?? null,
    since: t.since,
    uptimeSeconds: running ? Math.max(0, Math.round((now - Date.parse(t.since!)) / 1000)) : null,
    error: t.error,
  };
}

export async function swarmStatus(ctx: SwarmContext, opts: { historyLimit?: number; signal?: AbortSignal } = {}): Promise<SwarmAppStatus> {
  const { svc, app } = ctx;
  const { docker, pool } = svc;
  const stateDir = app.stateDir;
  const signal = opts.signal;
  const [service, tasks, nodes, info, files, lockDirExists] = await Promise.all([
    docker.inspectService(app.service, signal),
    docker.serviceTasks(app.service, signal).catch(() => [] as TaskInfo[]),
    docker.nodes(signal).catch(() => [] as NodeInfo[]),
    docker.swarmInfo(signal),
    readSmallFiles(
      pool,
      [
        { path: lockDetailsFile(stateDir), maxBytes: 64 * 1024 },
        { path: journalFile(stateDir), maxBytes: 256 * 1024 },
        { path: historyFile(stateDir), maxBytes: 256 * 1024, tail: true },
      ],
      signal,
    ),
    remoteExists(pool, lockDir(stateDir), signal),
  ]);
  const [lockText, journalText, historyText] = files;
  const warnings: string[] = [];
  if (!info.isManager) warnings.push(`the target's Docker engine is not a Swarm manager (swarm state: ${info.state})`);
  if (!service) warnings.push(`service ${app.service} does not exist on the manager`);

  // Versions come from the images' labels (set by our builds), read once per image.
  const images = [...new Set([...tasks.map((t) => t.image), service?.image, service?.previousImage].filter((i): i is string => !!i))];
  const labelsOf = new Map<string, Record<string, string>>();
  await Promise.all(
    images.map(async (img) => {
      const found = await docker.listImages(img, signal).catch(() => []);
      if (found[0]) labelsOf.set(img, found[0].labels);
    }),
  );
  const versionOf = (img: string) => labelsOf.get(img)?.[LABEL_VERSION] ?? null;
  const nodeName = (id: string | null) => (id ? (nodes.find((n) => n.id === id)?.hostname ?? id.slice(0, 12)) : null);

  // Health is the container's: readable for tasks on the manager's own node (the one we reach).
  const current = tasks.filter((t) => t.desiredState === 'running' || t.state === 'running' || t.state === 'starting');
  const health = new Map<string, string>();
  await Promise.all(
    current.map(async (t) => {
      if (t.nodeId !== info.nodeId || !t.containerId) return;
      const c = await docker.inspect(t.containerId, signal).catch(() => undefined);
      if (c) health.set(t.id, c.health);
    }),
  );
  const summaries = current.map((t) => summarizeTask(app.service, t, { health: health.get(t.id), nodeName: nodeName(t.nodeId), versionOf }));
  const hourAgo = Date.now() - 3_600_000;
  const failed = tasks
    .filter((t) => (t.state === 'failed' || t.state === 'rejected') && Date.parse(t.since ?? '') > hourAgo)
    .sort((a, b) => (b.since ?? '').localeCompare(a.since ?? ''))
    .slice(0, 5)
    .map((t) => summarizeTask(app.service, t, { nodeName: nodeName(t.nodeId), versionOf }));

  const running = summaries.filter((t) => t.state === 'running');
  const healthy = running.filter((t) => t.health === 'healthy' || t.health === 'none').length;
  const desired = service?.replicas ?? null;
  if (desired !== null && running.length < desired) warnings.push(`${running.length} of ${desired} replicas running`);
  for (const t of running) if (t.health === 'unhealthy') warnings.push(`task ${t.name} is unhealthy`);
  const us = service?.updateStatus ?? null;
  if (us && (us.state === 'paused' || us.state === 'rollback_paused')) {
    warnings.push(`the last update is ${us.state}${us.message ? ` (${us.message})` : ''}: tasks of two specs may run; deploy again or rollback`);
  }
  if (service && service.endpointMode !== 'dnsrr') warnings.push(`endpoint mode ${service.endpointMode}: needs IPVS on the nodes (dnsrr does not)`);

  const lock = parseLock(lockText, lockDirExists);
  const journal = parseJson<JournalInfo>(journalText);
  const interrupted = journal && !journal.finished ? journal : null;
  if (interrupted && !lock.held) warnings.push(`operation ${interrupted.operationId} stopped at phase ${interrupted.phase} without finishing`);
  const history = parseJsonLines<DeploymentRecord>(historyText).reverse();

  const image = service?.image ?? null;
  const labels = service?.labels ?? {};
  return {
    app: app.name,
    driver: 'swarm',
    service: app.service,
    exists: !!service,
    live: {
      image,
      version: labels[LABEL_VERSION] ?? (image ? versionOf(image) : null),
      commit: labels[LABEL_COMMIT] ?? (image ? (labelsOf.get(image)?.[LABEL_COMMIT] ?? null) : null),
      deploymentId: labels[LABEL_DEPLOYMENT] ?? null,
    },
    replicas: { desired, running: running.length, healthy },
    tasks: summaries,
    recentFailedTasks: failed,
    update: us ? { ...us, inProgress: updateInProgress(us) } : null,
    previous: service?.previousImage
      ? { image: service.previousImage, version: service.previousLabels?.[LABEL_VERSION] ?? versionOf(service.previousImage) }
      : null,
    updatePolicy: service?.update
      ? { order: service.update.order, failureAction: service.update.failureAction, monitorSeconds: service.update.monitorSeconds, parallelism: service.update.parallelism }
      : null,
    endpointMode: service?.endpointMode ?? 'unknown',
    nodes,
    frontUrl: app.frontUrl ?? null,
    lock,
    interruptedOperation: interrupted,
    recentDeployments: history.slice(0, opts.historyLimit ?? 5),
    warnings,
    checkedAt: new Date().toISOString(),
  };
}

/** A few lines at a glance, in the single-host status's words. */
export function swarmStatusText(st: SwarmAppStatus): string {
  const v = st.live;
  const out = [
    `${st.app}: swarm service ${st.service}, live ${v.version ? `v${v.version}` : 'version unknown'} (${v.image ?? 'no image'}), ${st.replicas.running}/${st.replicas.desired ?? '?'} replicas running, ${st.replicas.healthy} healthy`,
    ...st.tasks.map(
      (t) =>
        `task ${t.name}: ${t.state}${t.health !== 'unknown' && t.health !== 'none' ? `/${t.health}` : ''}${t.version ? ` v${t.version}` : ''} (${t.image}) on ${t.node ?? '?'}${t.uptimeSeconds !== null ? ` up ${formatDuration(t.uptimeSeconds)}` : ''}${t.error ? ` — ${t.error}` : ''}`,
    ),
  ];
  if (st.update) {
    out.push(`update: ${st.update.inProgress ? 'IN PROGRESS ' : ''}${st.update.state}${st.update.message ? ` (${st.update.message})` : ''}${st.update.completedAt ? ` at ${st.update.completedAt}` : ''}`);
  }
  if (st.previous) out.push(`rollback returns to: ${st.previous.version ? `v${st.previous.version} ` : ''}(${st.previous.image})`);
  out.push(
    st.lock.held
      ? `lock: HELD by ${st.lock.holder ?? '?'}${st.lock.host ? ` on ${st.lock.host} (pid ${st.lock.pid ?? '?'})` : ''} for ${st.lock.operation ?? '?'} ${st.lock.operationId ?? ''} since ${st.lock.since ?? '?'}`
      : 'lock: free',
  );
  const op = st.interruptedOperation;
  if (op) {
    out.push(
      st.lock.held && st.lock.operationId === op.operationId
        ? `in progress (or cut off): ${op.kind} ${op.operationId} at phase ${op.phase}`
        : `INTERRUPTED: ${op.kind} ${op.operationId} stopped at phase ${op.phase}`,
    );
  }
  const last = st.recentDeployments[0];
  if (last) out.push(`last deployment: ${last.id} ${last.kind} ${last.version ? `v${last.version} ` : ''}${last.outcome} at ${last.endedAt ?? last.startedAt}`);
  for (const f of st.recentFailedTasks.slice(0, 2)) out.push(`failed task ${f.name} (${f.image}): ${f.error ?? f.state}`);
  for (const w of st.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}

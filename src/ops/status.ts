/**
 * The state of the app, derived from the NAS every time: containers and
 * their labels from the Engine API, the live color from the nginx upstream
 * file actually in place, the lock, the interrupted operation if any, and
 * the recent deployments. Two round trips, run in parallel.
 */
import {
  colorContainerName,
  COLORS,
  historyFile,
  journalFile,
  LABEL_APP,
  LABEL_COLOR,
  LABEL_COMMIT,
  LABEL_DEPLOYMENT,
  LABEL_VERSION,
  lockDetailsFile,
  lockDir,
  parseJson,
  parseJsonLines,
  parsePreviousStop,
  parseUpstream,
  previousStopFile,
  type Color,
  type HistoryRecord,
  type JournalEntry,
} from '../domain/index.js';
import { readSmallFiles, remoteExists } from '../ssh/files.js';
import { listBackups } from '../bluegreen/operations/oauth-files.js';
import type { ContainerInfo } from '../docker/index.js';
import type { Services } from '../services.js';
import { retainedVersions, type RetainedVersion } from '../bluegreen/retention.js';

export interface ContainerSummary {
  name: string;
  color: Color | null;
  state: string;
  health: string;
  image: string;
  version: string | null;
  commit: string | null;
  deploymentId: string | null;
  startedAt: string | null;
  uptimeSeconds: number | null;
  restartCount: number;
  ports: string[];
  exitCode: number | null;
}

export interface LockInfo {
  held: boolean;
  holder: string | null;
  operation: string | null;
  since: string | null;
  operationId: string | null;
  /** Host and PID of the holder's process. */
  host: string | null;
  pid: number | null;
  /** The holder's last heartbeat (ISO, its clock); recover and release_lock wait until it is stale. */
  heartbeatAt: string | null;
}

/** The history and journal records are the NAS's own (src/domain/state-files.ts). */
export type DeploymentRecord = HistoryRecord;
export type JournalInfo = JournalEntry;

export interface AppStatus {
  app: string;
  liveColor: Color | null;
  upstream: { file: string; servers: string[]; deploymentId: string | null; readable: boolean };
  colors: { blue: ContainerSummary | null; green: ContainerSummary | null };
  siblings: ContainerSummary[];
  /** Containers of the app that are not one of the two colors (e.g. a legacy `loop-api`). */
  otherAppContainers: ContainerSummary[];
  lock: LockInfo;
  /** An operation that started and did not finish (our server died mid-way). */
  interruptedOperation: JournalInfo | null;
  recentDeployments: DeploymentRecord[];
  /** Images kept on the NAS, newest first: what `rollback` with `to` can go back to. */
  retainedVersions: RetainedVersion[];
  /** deploy.keepPrevious "<minutes>": when the previous color gets stopped. */
  previousColorStop: { container: string; color: Color; stopAt: string; overdue: boolean } | null;
  /** Backups of the OAuth keys and DB (reset_oauth, restore_oauth), newest first: what restore_oauth can put back. */
  oauthBackups: string[];
  warnings: string[];
  /** When the reads on the NAS ended (ISO). */
  checkedAt: string;
  /** When the reads on the NAS began (ISO): the state is at least this recent. */
  readAt: string;
  /** How old the answer was when handed out (ms since readAt): about 0 for a read of its own, more from the snapshot. */
  ageMs: number;
  /** Served from the status snapshot (server.statusSnapshotMs) rather than read for this call. */
  fromSnapshot: boolean;
}

/** How fresh a status answer is (see AppStatus). */
export interface Freshness {
  readAt: string;
  ageMs: number;
  fromSnapshot: boolean;
}

export function summarize(c: ContainerInfo, now = Date.now()): ContainerSummary {
  const color = c.labels[LABEL_COLOR];
  const started = c.state === 'running' && c.startedAt ? Date.parse(c.startedAt) : NaN;
  return {
    name: c.name,
    color: color === 'blue' || color === 'green' ? color : null,
    state: c.state,
    health: c.health,
    image: c.image,
    version: c.labels[LABEL_VERSION] ?? null,
    commit: c.labels[LABEL_COMMIT] ?? null,
    deploymentId: c.labels[LABEL_DEPLOYMENT] ?? null,
    startedAt: c.startedAt ?? null,
    uptimeSeconds: Number.isFinite(started) ? Math.max(0, Math.round((now - started) / 1000)) : null,
    restartCount: c.restartCount,
    ports: c.ports,
    exitCode: c.exitCode ?? null,
  };
}

const NO_LOCK: LockInfo = { held: false, holder: null, operation: null, since: null, operationId: null, host: null, pid: null, heartbeatAt: null };

/** The lock as status shows it, from lock/details.json's text and whether the lock directory exists. */
export function lockInfo(detailsText: string | undefined, lockDirExists: boolean): LockInfo {
  const lockRaw = parseJson<Record<string, unknown>>(detailsText);
  if (lockRaw) {
    return {
      held: true,
      holder: typeof lockRaw.holder === 'string' ? lockRaw.holder : null,
      operation: typeof lockRaw.operation === 'string' ? lockRaw.operation : null,
      since: typeof lockRaw.since === 'string' ? lockRaw.since : null,
      operationId: typeof lockRaw.operationId === 'string' ? lockRaw.operationId : null,
      host: typeof lockRaw.host === 'string' ? lockRaw.host : null,
      pid: typeof lockRaw.pid === 'number' ? lockRaw.pid : null,
      heartbeatAt: typeof lockRaw.heartbeatAt === 'string' ? lockRaw.heartbeatAt : null,
    };
  }
  return lockDirExists ? { ...NO_LOCK, held: true, holder: 'unknown (lock details missing or unreadable)' } : NO_LOCK;
}

/** The lock line of a status text. */
export function lockLine(l: LockInfo): string {
  return l.held
    ? `lock: HELD by ${l.holder ?? '?'}${l.host ? ` on ${l.host} (pid ${l.pid ?? '?'})` : ''} for ${l.operation ?? '?'} ${l.operationId ?? ''} since ${l.since ?? '?'}${l.heartbeatAt ? `, last heartbeat ${l.heartbeatAt}` : ''}`
    : 'lock: free';
}

export async function getStatus(s: Services, opts: { historyLimit?: number; signal?: AbortSignal } = {}): Promise<AppStatus> {
  const { config, pool, docker } = s;
  const readAt = new Date();
  const app = config.app.name;
  const colorNames = COLORS.map((c) => colorContainerName(app, c));
  // One list of every container (a NAS runs a few dozen at most), then only
  // the relevant ones inspected: by our label, or by name for containers
  // created before we managed them. All in parallel with the file snapshot.
  const [relevant, files, lockDirExists, oauthBackups, images] = await Promise.all([
    docker.listContainers(
      { select: (name, labels) => labels[LABEL_APP] === app || colorNames.includes(name) || config.app.watch.includes(name) },
      opts.signal,
    ),
    readSmallFiles(
      pool,
      [
        { path: config.nginx.upstreamFile, maxBytes: 64 * 1024 },
        { path: lockDetailsFile(config.state.dir), maxBytes: 64 * 1024 },
        { path: journalFile(config.state.dir), maxBytes: 256 * 1024 },
        { path: historyFile(config.state.dir), maxBytes: 256 * 1024, tail: true },
        { path: previousStopFile(config.state.dir), maxBytes: 16 * 1024 },
      ],
      opts.signal,
    ),
    // The lock is the directory; its details file may be missing for a moment (or torn).
    remoteExists(pool, lockDir(config.state.dir), opts.signal),
    listBackups(s, opts.signal).catch(() => [] as string[]),
    // Status must answer even if the image list does not.
    docker.listImages(app, opts.signal).catch((e: Error) => e),
  ]);
  const watched = new Set(config.app.watch);
  const byName = new Map(relevant.filter((c) => !watched.has(c.name) || c.labels[LABEL_APP] === app).map((c) => [c.name, c]));
  const siblings = relevant.filter((c) => watched.has(c.name) && c.labels[LABEL_APP] !== app);
  const [upstreamText, lockText, journalText, historyText, previousStopText] = files;
  const snap = { upstream: upstreamText, lock: lockText, journal: journalText };
  const warnings: string[] = [];

  const up = snap.upstream !== undefined ? parseUpstream(snap.upstream, config.app.colorPorts) : undefined;
  if (!up) warnings.push(`nginx upstream file ${config.nginx.upstreamFile} is missing or unreadable: the live color is unknown`);
  else if (!up.color) warnings.push(`nginx upstream names ${up.servers.join(', ') || 'no server'}, which is not one color's port`);

  const colors = { blue: null as ContainerSummary | null, green: null as ContainerSummary | null };
  const others: ContainerSummary[] = [];
  for (const c of byName.values()) {
    const sum = summarize(c);
    const color = COLORS.find((col) => c.name === colorContainerName(app, col));
    if (color) colors[color] = { ...sum, color };
    else others.push(sum);
  }
  const live = up?.color ?? null;
  if (live) {
    const lc = colors[live];
    if (!lc) warnings.push(`nginx routes to ${live}, but there is no ${colorContainerName(app, live)} container`);
    else if (lc.state !== 'running') warnings.push(`nginx routes to ${live}, but ${lc.name} is ${lc.state}`);
    else if (lc.health === 'unhealthy') warnings.push(`the live container ${lc.name} is unhealthy`);
  }

  const lock = lockInfo(snap.lock, lockDirExists);

  const journal = parseJson<JournalInfo>(snap.journal);
  const interrupted = journal && !journal.finished ? journal : null;
  if (interrupted && !lock.held) warnings.push(`operation ${interrupted.operationId} stopped at phase ${interrupted.phase} without finishing`);

  const history = parseJsonLines<DeploymentRecord>(historyText).reverse();
  const recent = history.slice(0, opts.historyLimit ?? 5);
  if (images instanceof Error) warnings.push(`cannot list the app's images: ${images.message}`);
  const versions = images instanceof Error ? [] : retainedVersions(app, images, history);
  const stop = parsePreviousStop(previousStopText);
  const stopColor = stop ? colors[stop.color] : null;
  // Only while it still applies: the named container, still running, not live.
  const previousColorStop =
    stop && live && live !== stop.color && stopColor?.state === 'running' && stopColor.deploymentId === stop.deploymentId
      ? { container: stop.container, color: stop.color, stopAt: stop.stopAt, overdue: Date.parse(stop.stopAt) < Date.now() }
      : null;
  return {
    app,
    liveColor: live,
    upstream: {
      file: config.nginx.upstreamFile,
      servers: up?.servers ?? [],
      deploymentId: up?.deploymentId ?? null,
      readable: up !== undefined,
    },
    colors,
    siblings: siblings.map((c) => summarize(c)),
    otherAppContainers: others,
    lock,
    interruptedOperation: interrupted,
    recentDeployments: recent,
    retainedVersions: versions,
    previousColorStop,
    oauthBackups,
    warnings,
    checkedAt: new Date().toISOString(),
    readAt: readAt.toISOString(),
    ageMs: 0,
    fromSnapshot: false,
  };
}

/**
 * A status that shows an operation in progress is not kept as a snapshot:
 * its lock and journal change with every step (the steps of another
 * process's operation would not invalidate it), so each caller reads afresh
 * until the lock is free again.
 */
export const quiescent = (st: { lock: { held: boolean } }): boolean => !st.lock.held;

/** The status with how fresh it is, from what the coalescer says of the read. */
export function withFreshness<T extends Freshness>(st: T, served: { readAt: number; ageMs: number; fromSnapshot: boolean }): T {
  return { ...st, readAt: new Date(served.readAt).toISOString(), ageMs: Math.round(served.ageMs), fromSnapshot: served.fromSnapshot };
}

/**
 * getStatus for callers that may arrive together (tools, resources, the
 * dashboard): identical reads in flight share one trip to the NAS, and a
 * settled read may be served again for a short while (src/ops/coalesce.ts:
 * never across a write of this process, a Docker event or a gap in the event
 * subscription). The answer says how old it is (readAt, ageMs, fromSnapshot).
 */
export async function readStatus(s: Services, opts: { historyLimit?: number; signal?: AbortSignal } = {}): Promise<AppStatus> {
  const historyLimit = opts.historyLimit ?? 5;
  const served = await s.reads.read(`status:${historyLimit}`, (signal) => getStatus(s, { historyLimit, signal }), opts.signal, quiescent);
  return withFreshness(served.value, served);
}

/** The freshness line of a status text (only for an answer from the snapshot). */
export function freshnessLine(f: Freshness): string | undefined {
  if (!f.fromSnapshot) return undefined;
  return `(status snapshot read from the NAS ${f.ageMs} ms ago; dropped at every write of this server and every Docker event on the NAS)`;
}

/** A few lines an operator can read at a glance. */
export function statusText(st: AppStatus): string {
  const line = (c: ContainerSummary | null, label: string) =>
    c
      ? `${label}: ${c.name} ${c.state}${c.health !== 'none' ? `/${c.health}` : ''}${c.version ? ` v${c.version}` : ''} (${c.image})${c.uptimeSeconds !== null ? ` up ${formatDuration(c.uptimeSeconds)}` : ''}${c.restartCount ? ` restarts=${c.restartCount}` : ''}`
      : `${label}: (no container)`;
  const out = [
    `${st.app}: live color ${st.liveColor ?? 'UNKNOWN'}`,
    line(st.colors.blue, `blue${st.liveColor === 'blue' ? ' [live]' : ''}`),
    line(st.colors.green, `green${st.liveColor === 'green' ? ' [live]' : ''}`),
    ...st.siblings.map((c) => line(c, 'sibling')),
    lockLine(st.lock),
  ];
  const op = st.interruptedOperation;
  if (op) {
    // Unfinished and still holding the lock: running (here or in a server that died: recover tells).
    out.push(
      st.lock.held && st.lock.operationId === op.operationId
        ? `in progress (or cut off): ${op.kind} ${op.operationId} at phase ${op.phase}; if its server died, run recover`
        : `INTERRUPTED: ${op.kind} ${op.operationId} stopped at phase ${op.phase}; run recover`,
    );
  }
  const last = st.recentDeployments[0];
  if (last) out.push(`last deployment: ${last.id} ${last.kind} ${last.fromColor ?? '-'}→${last.toColor ?? '-'} ${last.outcome} at ${last.endedAt ?? last.startedAt}`);
  if (st.previousColorStop) {
    const p = st.previousColorStop;
    out.push(`previous color: ${p.container} ${p.overdue ? 'was due to stop at' : 'stops at'} ${p.stopAt} (deploy.keepPrevious)`);
  }
  if (st.retainedVersions.length) {
    out.push(`versions kept for rollback (to): ${st.retainedVersions.map((v) => v.version ?? v.image).join(', ')}`);
  }
  if (st.oauthBackups.length) out.push(`OAuth backups: ${st.oauthBackups.length} (newest ${st.oauthBackups[0]})`);
  for (const w of st.warnings) out.push(`warning: ${w}`);
  const fresh = freshnessLine(st);
  if (fresh) out.push(fresh);
  return out.join('\n');
}

export function formatDuration(sec: number): string {
  if (sec < 60) return `${sec}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m`;
  if (sec < 86400) return `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m`;
  return `${Math.floor(sec / 86400)}d${Math.floor((sec % 86400) / 3600)}h`;
}

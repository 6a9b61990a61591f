/**
 * The state of a recreate app (one container named after the app, the
 * previous version kept stopped as `<app>-previous`), derived from the NAS
 * every time, in the blue-green status's terms where they mean the same:
 * containers (state, health, version, commit, image, uptime), the lock and
 * its holder, an interrupted operation, recent deployments, the versions
 * kept for `rollback` with `to`, warnings. One container list, one file
 * snapshot and one image list, in parallel.
 */
import { historyFile, journalFile, lockDetailsFile, lockDir, parseJson, parseJsonLines } from '../domain/index.js';
import { retainedVersions, type RetainedVersion } from '../bluegreen/retention.js';
import { readSmallFiles, remoteExists } from '../ssh/files.js';
import { liveName, outgoingName, previousName } from '../recreate/names.js';
import type { RecreateServices } from '../services.js';
import { LABEL_APP } from '../domain/index.js';
import { formatDuration, freshnessLine, lockInfo, lockLine, quiescent, summarize, withFreshness, type ContainerSummary, type DeploymentRecord, type JournalInfo, type LockInfo } from './status.js';

export interface RecreateAppStatus {
  app: string;
  strategy: 'recreate';
  /** `<app>`: the container that serves. */
  container: ContainerSummary | null;
  /** `<app>-previous`: the version before the last deploy (stopped), what `rollback` without `to` goes back to. */
  previous: ContainerSummary | null;
  /** Other containers labelled as the app's (e.g. `<app>-outgoing` left by a cut-off operation). */
  otherAppContainers: ContainerSummary[];
  /** Where the health gate probes: 127.0.0.1:<hostPort><healthPath> on the NAS (null: the container's HEALTHCHECK). */
  endpoint: { hostPort: number | null; healthPath: string };
  lock: LockInfo;
  interruptedOperation: JournalInfo | null;
  recentDeployments: DeploymentRecord[];
  retainedVersions: RetainedVersion[];
  warnings: string[];
  checkedAt: string;
  /** As in the blue-green status: when the reads began, the answer's age, from the snapshot or not. */
  readAt: string;
  ageMs: number;
  fromSnapshot: boolean;
}

export async function getRecreateStatus(s: RecreateServices, opts: { historyLimit?: number; signal?: AbortSignal } = {}): Promise<RecreateAppStatus> {
  const { config, pool, docker } = s;
  const readAt = new Date();
  const app = config.app.name;
  const names = [liveName(app), previousName(app), outgoingName(app)];
  const [relevant, files, lockDirExists, images] = await Promise.all([
    docker.listContainers({ select: (name, labels) => labels[LABEL_APP] === app || names.includes(name) }, opts.signal),
    readSmallFiles(
      pool,
      [
        { path: lockDetailsFile(config.state.dir), maxBytes: 64 * 1024 },
        { path: journalFile(config.state.dir), maxBytes: 256 * 1024 },
        { path: historyFile(config.state.dir), maxBytes: 256 * 1024, tail: true },
      ],
      opts.signal,
    ),
    remoteExists(pool, lockDir(config.state.dir), opts.signal),
    docker.listImages(app, opts.signal).catch((e: Error) => e),
  ]);
  const [lockText, journalText, historyText] = files;
  const byName = new Map(relevant.map((c) => [c.name, summarize(c)]));
  const container = byName.get(liveName(app)) ?? null;
  const previous = byName.get(previousName(app)) ?? null;
  const others = [...byName.values()].filter((c) => c.name !== liveName(app) && c.name !== previousName(app));
  const warnings: string[] = [];
  if (!container) warnings.push(`there is no ${liveName(app)} container${previous ? `: rollback brings ${previousName(app)} back` : ''}`);
  else if (container.state !== 'running') warnings.push(`${container.name} is ${container.state}: the app does not answer`);
  else if (container.health === 'unhealthy') warnings.push(`${container.name} is unhealthy`);
  if (byName.has(outgoingName(app))) warnings.push(`${outgoingName(app)} exists: an operation was cut off mid-swap; recover puts things right`);

  const lock = lockInfo(lockText, lockDirExists);
  const journal = parseJson<JournalInfo>(journalText);
  const interrupted = journal && !journal.finished ? journal : null;
  if (interrupted && !lock.held) warnings.push(`operation ${interrupted.operationId} stopped at phase ${interrupted.phase} without finishing`);
  const history = parseJsonLines<DeploymentRecord>(historyText).reverse();
  if (images instanceof Error) warnings.push(`cannot list the app's images: ${images.message}`);
  return {
    app,
    strategy: 'recreate',
    container,
    previous,
    otherAppContainers: others,
    endpoint: { hostPort: config.app.hostPort ?? null, healthPath: config.app.healthPath },
    lock,
    interruptedOperation: interrupted,
    recentDeployments: history.slice(0, opts.historyLimit ?? 5),
    retainedVersions: images instanceof Error ? [] : retainedVersions(app, images, history),
    warnings,
    checkedAt: new Date().toISOString(),
    readAt: readAt.toISOString(),
    ageMs: 0,
    fromSnapshot: false,
  };
}

/**
 * getRecreateStatus for callers that may arrive together: identical reads in
 * flight share one trip, and a settled read may be served again for a short
 * while, under the same rules as the blue-green status (readStatus).
 */
export async function readRecreateStatus(s: RecreateServices, opts: { historyLimit?: number; signal?: AbortSignal } = {}): Promise<RecreateAppStatus> {
  const historyLimit = opts.historyLimit ?? 5;
  const served = await s.reads.read(`recreate-status:${historyLimit}`, (signal) => getRecreateStatus(s, { historyLimit, signal }), opts.signal, quiescent);
  return withFreshness(served.value, served);
}

/** A few lines an operator can read at a glance. */
export function recreateStatusText(st: RecreateAppStatus): string {
  const line = (c: ContainerSummary | null, label: string) =>
    c
      ? `${label}: ${c.name} ${c.state}${c.health !== 'none' ? `/${c.health}` : ''}${c.version ? ` v${c.version}` : ''} (${c.image})${c.uptimeSeconds !== null ? ` up ${formatDuration(c.uptimeSeconds)}` : ''}${c.restartCount ? ` restarts=${c.restartCount}` : ''}`
      : `${label}: (no container)`;
  const out = [
    `${st.app} (recreate${st.endpoint.hostPort !== null ? `, 127.0.0.1:${st.endpoint.hostPort}` : ''}): ${st.container?.state === 'running' ? `serving ${st.container.version ? `v${st.container.version}` : st.container.image}` : 'NOT SERVING'}`,
    line(st.container, 'container'),
    line(st.previous, 'previous'),
    ...st.otherAppContainers.map((c) => line(c, 'other')),
    lockLine(st.lock),
  ];
  const op = st.interruptedOperation;
  if (op) {
    out.push(
      st.lock.held && st.lock.operationId === op.operationId
        ? `in progress (or cut off): ${op.kind} ${op.operationId} at phase ${op.phase}; if its server died, run recover`
        : `INTERRUPTED: ${op.kind} ${op.operationId} stopped at phase ${op.phase}; run recover`,
    );
  }
  const last = st.recentDeployments[0];
  if (last) out.push(`last deployment: ${last.id} ${last.kind} ${last.version ? `v${last.version} ` : ''}${last.outcome} at ${last.endedAt ?? last.startedAt}`);
  if (st.retainedVersions.length) out.push(`versions kept for rollback (to): ${st.retainedVersions.map((v) => v.version ?? v.image).join(', ')}`);
  for (const w of st.warnings) out.push(`warning: ${w}`);
  const fresh = freshnessLine(st);
  if (fresh) out.push(fresh);
  return out.join('\n');
}

/**
 * Pure builders and parsers for the Swarm half of the Engine API (/services,
 * /tasks, /nodes, service and task logs). Like requests.ts: no I/O, so each
 * one is unit-tested as plain data.
 *
 * A service update sends the whole spec back with the version it was read
 * at (optimistic concurrency: the manager refuses a stale version), so the
 * spec is carried as the Engine's own JSON and changed by small pure
 * functions, never rebuilt from our own fields (that would drop settings the
 * owner made by hand: mounts, secrets, constraints…).
 */
import { API, assertImage, assertName, type LogsQuery } from './requests.js';

const q = (params: Record<string, string | number | undefined>): string => {
  const usp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) usp.set(k, String(v));
  const s = usp.toString();
  return s ? `?${s}` : '';
};

/** Swarm object ids: 25 base-36 characters (tasks, services, nodes). */
const OBJECT_ID_RE = /^[a-z0-9]{10,64}$/;
function assertObjectId(kind: string, id: string): string {
  if (!OBJECT_ID_RE.test(id)) throw new Error(`invalid ${kind} id: ${JSON.stringify(id).slice(0, 80)}`);
  return id;
}

const logParams = (o: LogsQuery) => ({
  stdout: o.stdout ? 1 : 0,
  stderr: o.stderr ? 1 : 0,
  tail: o.tail ?? 'all',
  since: o.since,
  timestamps: o.timestamps ? 1 : 0,
});

export const swarmPaths = {
  info: () => `${API}/info`,
  service: (name: string) => `${API}/services/${encodeURIComponent(assertName('service', name))}`,
  /**
   * POST with the spec as body. `rollback: true` asks the manager for its
   * server-side rollback to the service's PreviousSpec (the body is then
   * ignored but must still be a spec).
   */
  serviceUpdate: (id: string, version: number, o: { rollback?: boolean } = {}) => {
    if (!Number.isInteger(version) || version < 0) throw new Error(`invalid service version ${version}`);
    return `${API}/services/${encodeURIComponent(assertObjectId('service', id))}/update${q({ version, rollback: o.rollback ? 'previous' : undefined })}`;
  },
  tasks: (service: string) => `${API}/tasks${q({ filters: JSON.stringify({ service: [assertName('service', service)] }) })}`,
  nodes: () => `${API}/nodes`,
  serviceLogs: (name: string, o: LogsQuery) => `${API}/services/${encodeURIComponent(assertName('service', name))}/logs${q(logParams(o))}`,
  taskLogs: (id: string, o: LogsQuery) => `${API}/tasks/${encodeURIComponent(assertObjectId('task', id))}/logs${q(logParams(o))}`,
};

// ---------------------------------------------------------------- raw shapes (the fields we read)

/** The service spec as the Engine sends it; unknown fields are kept as they are. */
export interface RawServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: { Image: string; Labels?: Record<string, string>; Env?: string[]; [k: string]: unknown };
    ForceUpdate?: number;
    [k: string]: unknown;
  };
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> };
  UpdateConfig?: RawUpdateConfig;
  RollbackConfig?: RawUpdateConfig;
  EndpointSpec?: { Mode?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface RawUpdateConfig {
  Parallelism?: number;
  /** Nanoseconds. */
  Delay?: number;
  FailureAction?: 'continue' | 'pause' | 'rollback';
  /** Nanoseconds. */
  Monitor?: number;
  MaxFailureRatio?: number;
  Order?: 'stop-first' | 'start-first';
}

export interface RawUpdateStatus {
  State?: string;
  StartedAt?: string;
  CompletedAt?: string;
  Message?: string;
}

export interface RawService {
  ID: string;
  Version: { Index: number };
  CreatedAt?: string;
  UpdatedAt?: string;
  Spec: RawServiceSpec;
  PreviousSpec?: RawServiceSpec;
  UpdateStatus?: RawUpdateStatus;
}

export interface RawTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  CreatedAt?: string;
  UpdatedAt?: string;
  DesiredState: string;
  Spec: { ContainerSpec?: { Image?: string }; ForceUpdate?: number };
  Status: {
    Timestamp?: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
  };
}

export interface RawNode {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string };
}

// ---------------------------------------------------------------- parsed shapes

const NS = 1_000_000_000;

export interface UpdatePolicy {
  parallelism: number;
  delaySeconds: number;
  failureAction: 'continue' | 'pause' | 'rollback';
  monitorSeconds: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

/**
 * The state of the last update, as swarmkit records it:
 * updating → completed, or updating → rollback_started → rollback_completed
 * (paused / rollback_paused when it stopped half-way).
 */
export interface UpdateState {
  state: string;
  message: string | null;
  startedAt: string | null;
  completedAt: string | null;
}

export interface ServiceInfo {
  id: string;
  name: string;
  /** The spec version: what an update must name. */
  version: number;
  image: string;
  labels: Record<string, string>;
  /** Replicated services: the desired count; global: null. */
  replicas: number | null;
  endpointMode: string;
  forceUpdate: number;
  update: UpdatePolicy | null;
  rollback: UpdatePolicy | null;
  updateStatus: UpdateState | null;
  /** The image of the spec a rollback returns to, if there is one. */
  previousImage: string | null;
  previousLabels: Record<string, string> | null;
  spec: RawServiceSpec;
}

export interface TaskInfo {
  id: string;
  slot: number | null;
  nodeId: string | null;
  image: string;
  state: string;
  desiredState: string;
  message: string | null;
  error: string | null;
  containerId: string | null;
  exitCode: number | null;
  /** When it entered its current state. */
  since: string | null;
  createdAt: string | null;
  forceUpdate: number;
}

export interface NodeInfo {
  id: string;
  hostname: string;
  role: string;
  availability: string;
  state: string;
  addr: string | null;
  leader: boolean;
}

/** The image reference without the `@sha256:…` digest the CLI pins. */
export function imageWithoutDigest(ref: string): string {
  return ref.replace(/@sha256:[a-f0-9]{64}$/, '');
}

export function parseUpdatePolicy(u: RawUpdateConfig | undefined): UpdatePolicy | null {
  if (!u) return null;
  return {
    parallelism: u.Parallelism ?? 1,
    delaySeconds: (u.Delay ?? 0) / NS,
    failureAction: u.FailureAction ?? 'pause',
    monitorSeconds: (u.Monitor ?? 5 * NS) / NS,
    maxFailureRatio: u.MaxFailureRatio ?? 0,
    order: u.Order ?? 'stop-first',
  };
}

export function parseService(raw: RawService): ServiceInfo {
  const us = raw.UpdateStatus;
  return {
    id: raw.ID,
    name: raw.Spec.Name,
    version: raw.Version.Index,
    image: imageWithoutDigest(raw.Spec.TaskTemplate.ContainerSpec.Image),
    labels: raw.Spec.Labels ?? {},
    replicas: raw.Spec.Mode?.Replicated ? (raw.Spec.Mode.Replicated.Replicas ?? 1) : null,
    endpointMode: raw.Spec.EndpointSpec?.Mode ?? 'vip',
    forceUpdate: raw.Spec.TaskTemplate.ForceUpdate ?? 0,
    update: parseUpdatePolicy(raw.Spec.UpdateConfig),
    rollback: parseUpdatePolicy(raw.Spec.RollbackConfig),
    updateStatus: us?.State
      ? { state: us.State, message: us.Message ?? null, startedAt: us.StartedAt ?? null, completedAt: us.CompletedAt ?? null }
      : null,
    previousImage: raw.PreviousSpec ? imageWithoutDigest(raw.PreviousSpec.TaskTemplate.ContainerSpec.Image) : null,
    previousLabels: raw.PreviousSpec ? (raw.PreviousSpec.Labels ?? {}) : null,
    spec: raw.Spec,
  };
}

export function parseTasks(raw: RawTask[]): TaskInfo[] {
  return raw
    .map((t) => ({
      id: t.ID,
      slot: t.Slot ?? null,
      nodeId: t.NodeID ?? null,
      image: imageWithoutDigest(t.Spec.ContainerSpec?.Image ?? ''),
      state: t.Status.State,
      desiredState: t.DesiredState,
      message: t.Status.Message ?? null,
      error: t.Status.Err ?? null,
      containerId: t.Status.ContainerStatus?.ContainerID ?? null,
      exitCode: t.Status.ContainerStatus?.ExitCode ?? null,
      since: t.Status.Timestamp ?? null,
      createdAt: t.CreatedAt ?? null,
      forceUpdate: t.Spec.ForceUpdate ?? 0,
    }))
    .sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
}

export function parseNodes(raw: RawNode[]): NodeInfo[] {
  return raw.map((n) => ({
    id: n.ID,
    hostname: n.Description?.Hostname ?? n.ID.slice(0, 12),
    role: n.Spec?.Role ?? 'unknown',
    availability: n.Spec?.Availability ?? 'unknown',
    state: n.Status?.State ?? 'unknown',
    addr: n.Status?.Addr ?? null,
    leader: n.ManagerStatus?.Leader ?? false,
  }));
}

/** Whether an update is still moving (the manager is replacing tasks). */
export function updateInProgress(s: UpdateState | null): boolean {
  return s !== null && (s.state === 'updating' || s.state === 'rollback_started');
}

// ---------------------------------------------------------------- spec changes (pure: a new spec each)

const clone = <T>(v: T): T => structuredClone(v);

/** The spec with a new image and labels on the service (what status reads the version from). */
export function specWithImage(spec: RawServiceSpec, image: string, labels: Record<string, string>): RawServiceSpec {
  assertImage(image);
  const s = clone(spec);
  s.TaskTemplate.ContainerSpec.Image = image;
  s.Labels = { ...(s.Labels ?? {}), ...labels };
  return s;
}

/** The same spec with ForceUpdate bumped: every task is replaced, in the update policy's order (a rolling restart). */
export function specWithForceUpdate(spec: RawServiceSpec): RawServiceSpec {
  const s = clone(spec);
  s.TaskTemplate.ForceUpdate = (s.TaskTemplate.ForceUpdate ?? 0) + 1;
  return s;
}

/**
 * The zero-downtime update policy, whatever the service was created with:
 * start the new task before stopping the old one, one at a time, watch each
 * new task for `monitorSeconds` after it is running (healthy, when the image
 * has a HEALTHCHECK), and roll back on the first failure. Rollback goes the
 * same way, and pauses if it fails itself (a human decides then).
 */
export function specWithSafeUpdates(spec: RawServiceSpec, monitorSeconds: number): RawServiceSpec {
  const s = clone(spec);
  const monitor = Math.round(monitorSeconds * NS);
  s.UpdateConfig = { ...(s.UpdateConfig ?? {}), Parallelism: 1, Order: 'start-first', FailureAction: 'rollback', Monitor: monitor, MaxFailureRatio: 0 };
  s.RollbackConfig = { ...(s.RollbackConfig ?? {}), Parallelism: 1, Order: 'start-first', FailureAction: 'pause', Monitor: monitor, MaxFailureRatio: 0 };
  return s;
}

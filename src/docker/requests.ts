/**
 * Pure builders for what we ask of Docker: Engine API paths and bodies, and
 * the argv of the CLI commands we run on the NAS. No I/O here, so each one is
 * unit-tested as plain data.
 */
import { NAME_RE } from '../config.js';

/** Engine API version: Synology's Container Manager (Docker 20.10 / 24.x) both speak it. */
export const API = '/v1.41';

export function assertName(kind: string, name: string): string {
  if (!NAME_RE.test(name)) throw new Error(`invalid ${kind} name: ${JSON.stringify(name).slice(0, 80)}`);
  return name;
}

/** Image references: repo[:tag], conservative charset. */
const IMAGE_RE = /^[a-z0-9][a-z0-9._/-]{0,199}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;
export function assertImage(ref: string): string {
  if (!IMAGE_RE.test(ref)) throw new Error(`invalid image reference: ${JSON.stringify(ref).slice(0, 80)}`);
  return ref;
}

const q = (params: Record<string, string | number | boolean | undefined>): string => {
  const usp = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) usp.set(k, String(v));
  const s = usp.toString();
  return s ? `?${s}` : '';
};

export const paths = {
  ping: () => `${API}/_ping`,
  /**
   * The Engine's event stream, containers and images only (what status shows),
   * replaying those since `sinceSec` (Unix seconds) from the Engine's buffer first.
   */
  events: (sinceSec?: number) =>
    `${API}/events${q({ since: sinceSec !== undefined ? Math.floor(sinceSec) : undefined, filters: JSON.stringify({ type: ['container', 'image'] }) })}`,
  list: (opts: { all?: boolean; labels?: string[]; names?: string[] } = {}) => {
    const filters: Record<string, string[]> = {};
    if (opts.labels?.length) filters.label = opts.labels;
    if (opts.names?.length) filters.name = opts.names.map((n) => `^/${assertName('container', n)}$`);
    return `${API}/containers/json${q({ all: opts.all ? 1 : undefined, filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined })}`;
  },
  inspect: (name: string) => `${API}/containers/${encodeURIComponent(assertName('container', name))}/json`,
  start: (name: string) => `${API}/containers/${encodeURIComponent(assertName('container', name))}/start`,
  stop: (name: string, timeoutSec: number) => `${API}/containers/${encodeURIComponent(assertName('container', name))}/stop${q({ t: timeoutSec })}`,
  restart: (name: string, timeoutSec: number) =>
    `${API}/containers/${encodeURIComponent(assertName('container', name))}/restart${q({ t: timeoutSec })}`,
  remove: (name: string, force: boolean) => `${API}/containers/${encodeURIComponent(assertName('container', name))}${q({ force: force ? 1 : undefined, v: 0 })}`,
  rename: (name: string, to: string) =>
    `${API}/containers/${encodeURIComponent(assertName('container', name))}/rename${q({ name: assertName('container', to) })}`,
  create: (name: string) => `${API}/containers/create${q({ name: assertName('container', name) })}`,
  logs: (name: string, opts: LogsQuery) =>
    `${API}/containers/${encodeURIComponent(assertName('container', name))}/logs${q({
      stdout: opts.stdout ? 1 : 0,
      stderr: opts.stderr ? 1 : 0,
      tail: opts.tail ?? 'all',
      since: opts.since,
      timestamps: opts.timestamps ? 1 : 0,
    })}`,
  images: (reference?: string) =>
    `${API}/images/json${q({ filters: reference ? JSON.stringify({ reference: [reference] }) : undefined })}`,
  imageInspect: (ref: string) => `${API}/images/${encodeURIComponent(assertImage(ref))}/json`,
  /**
   * Removes one tag (the image itself only once no tag is left). Never
   * `force`: the Engine then refuses (409) an image a container uses, running
   * or stopped, which is exactly the guard retention needs.
   */
  imageRemove: (ref: string) => `${API}/images/${encodeURIComponent(assertImage(ref))}${q({ force: 0, noprune: 0 })}`,
};

export interface LogsQuery {
  stdout: boolean;
  stderr: boolean;
  /** Number of lines from the end. */
  tail?: number;
  /** Unix seconds. */
  since?: number;
  timestamps?: boolean;
}

/** Everything needed to (re)create an app container the same way every time. */
export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  /** host path → container path */
  binds: Array<{ host: string; container: string; readOnly?: boolean }>;
  network: string;
  /** Aliases on the network (e.g. the app name, so siblings find it). */
  aliases?: string[];
  /** Published port: 127.0.0.1:hostPort → containerPort/tcp. */
  publish?: { hostIp: string; hostPort: number; containerPort: number };
  restartPolicy: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  /** Overrides the image's HEALTHCHECK interval, if given. */
  healthcheck?: { test: string[]; intervalMs: number; timeoutMs: number; retries: number; startPeriodMs?: number };
}

/** The Engine API body for POST /containers/create. */
export function containerCreateBody(spec: ContainerSpec): Record<string, unknown> {
  assertName('container', spec.name);
  assertImage(spec.image);
  assertName('network', spec.network);
  for (const k of Object.keys(spec.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name: ${k.slice(0, 40)}`);
  }
  for (const b of spec.binds) {
    // A host path, or a named Docker volume.
    const hostOk = b.host.startsWith('/') || NAME_RE.test(b.host);
    if (!hostOk || !b.container.startsWith('/') || /[:\0\n]/.test(b.host + b.container)) {
      throw new Error(`invalid volume binding ${b.host}:${b.container}`);
    }
  }
  const port = spec.publish ? `${spec.publish.containerPort}/tcp` : undefined;
  const ms = 1_000_000; // Engine durations are nanoseconds
  return {
    Image: spec.image,
    Labels: spec.labels,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: port ? { [port]: {} } : undefined,
    Healthcheck: spec.healthcheck
      ? {
          Test: spec.healthcheck.test,
          Interval: spec.healthcheck.intervalMs * ms,
          Timeout: spec.healthcheck.timeoutMs * ms,
          Retries: spec.healthcheck.retries,
          StartPeriod: (spec.healthcheck.startPeriodMs ?? 0) * ms,
        }
      : undefined,
    HostConfig: {
      Binds: spec.binds.map((b) => `${b.host}:${b.container}${b.readOnly ? ':ro' : ''}`),
      NetworkMode: spec.network,
      RestartPolicy: { Name: spec.restartPolicy },
      PortBindings: port
        ? { [port]: [{ HostIp: spec.publish!.hostIp, HostPort: String(spec.publish!.hostPort) }] }
        : undefined,
    },
    NetworkingConfig: {
      EndpointsConfig: { [spec.network]: { Aliases: spec.aliases ?? [] } },
    },
  };
}

/** argv of `docker build` on the NAS, context = the app checkout. */
export function buildImageArgv(
  dockerBinary: string,
  opts: { contextDir: string; tag: string; labels?: Record<string, string>; buildArgs?: Record<string, string>; dockerfile?: string },
): string[] {
  assertImage(opts.tag);
  const argv = [dockerBinary, 'build', '--tag', opts.tag];
  if (opts.dockerfile) argv.push('--file', opts.dockerfile);
  for (const [k, v] of Object.entries(opts.labels ?? {})) argv.push('--label', `${k}=${v}`);
  for (const [k, v] of Object.entries(opts.buildArgs ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid build arg name: ${k.slice(0, 40)}`);
    argv.push('--build-arg', `${k}=${v}`);
  }
  argv.push('--', opts.contextDir);
  return argv;
}

/**
 * Splits Docker's multiplexed log stream (8-byte frame headers: stream type,
 * 3 zero bytes, big-endian length). A container with a TTY sends raw bytes
 * instead; those are returned as stdout. Frame bodies stay bytes: Docker cuts
 * lines longer than 16 KiB into several frames, possibly inside a character.
 */
export function demuxLogFrames(buf: Buffer): Array<{ stream: 'stdout' | 'stderr'; body: Buffer }> {
  const looksMuxed = buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
  if (!looksMuxed) return buf.length ? [{ stream: 'stdout', body: buf }] : [];
  const out: Array<{ stream: 'stdout' | 'stderr'; body: Buffer }> = [];
  let off = 0;
  while (off + 8 <= buf.length) {
    const type = buf[off]!;
    const len = buf.readUInt32BE(off + 4);
    out.push({ stream: type === 2 ? 'stderr' : 'stdout', body: buf.subarray(off + 8, Math.min(buf.length, off + 8 + len)) });
    off += 8 + len;
  }
  return out;
}

/** The frames as text (each frame decoded on its own). */
export function demuxLogs(buf: Buffer): Array<{ stream: 'stdout' | 'stderr'; text: string }> {
  return demuxLogFrames(buf).map((f) => ({ stream: f.stream, text: f.body.toString('utf8') }));
}

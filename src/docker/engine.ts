/**
 * What the tools need from Docker on the NAS. Reads and container lifecycle go
 * through the Engine API over a pooled dial-stdio channel (fast); image builds
 * run the CLI on the NAS, because the build context lives there.
 */
import type { IncomingMessage } from 'node:http';
import type { SshPool } from '../ssh/pool.js';
import { RemoteCommandError } from '../ssh/errors.js';
import { EngineTransport, type EngineTransportOptions } from './transport.js';
import { LineSplitter } from '../line-splitter.js';
import { buildImageArgv, containerCreateBody, demuxLogFrames, paths, type ContainerSpec, type LogsQuery } from './requests.js';
import {
  parseNodes,
  parseService,
  parseTasks,
  swarmPaths,
  type NodeInfo,
  type RawNode,
  type RawService,
  type RawServiceSpec,
  type RawTask,
  type ServiceInfo,
  type TaskInfo,
} from './swarm-requests.js';

export class DockerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'DockerError';
  }
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  imageId: string;
  labels: Record<string, string>;
  /** created | running | paused | restarting | removing | exited | dead */
  state: string;
  /** healthy | unhealthy | starting | none */
  health: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  exitCode: number | undefined;
  restartCount: number;
  /** host ports published, e.g. ["127.0.0.1:18081->8081/tcp"] */
  ports: string[];
  networks: string[];
  /** Last health check output (trimmed), if the container has a HEALTHCHECK. */
  lastHealthOutput: string | undefined;
}

/** Which image a container (any state) was created from. */
export interface ContainerImageUse {
  name: string;
  /** The reference it was created with (tag), as the list endpoint shows it. */
  image: string;
  /** sha256:… of the image. */
  imageId: string;
  state: string;
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

interface RawInspect {
  Id: string;
  Name: string;
  Image: string;
  RestartCount?: number;
  Config: { Image: string; Labels: Record<string, string> | null; Env?: string[] | null };
  HostConfig?: { Binds?: string[] | null; NetworkMode?: string; RestartPolicy?: { Name?: string } };
  State: {
    Status: string;
    StartedAt?: string;
    FinishedAt?: string;
    ExitCode?: number;
    Health?: { Status: string; Log?: Array<{ Output?: string }> };
  };
  NetworkSettings: {
    Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null>;
    Networks?: Record<string, unknown>;
  };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export function toContainerInfo(raw: RawInspect): ContainerInfo {
  const ports: string[] = [];
  for (const [cport, binds] of Object.entries(raw.NetworkSettings.Ports ?? {})) {
    for (const b of binds ?? []) ports.push(`${b.HostIp}:${b.HostPort}->${cport}`);
  }
  const log = raw.State.Health?.Log;
  const started = raw.State.StartedAt && raw.State.StartedAt !== ZERO_TIME ? raw.State.StartedAt : undefined;
  const finished = raw.State.FinishedAt && raw.State.FinishedAt !== ZERO_TIME ? raw.State.FinishedAt : undefined;
  return {
    id: raw.Id.slice(0, 12),
    name: raw.Name.replace(/^\//, ''),
    image: raw.Config.Image,
    imageId: raw.Image,
    labels: raw.Config.Labels ?? {},
    state: raw.State.Status,
    health: raw.State.Health?.Status ?? 'none',
    startedAt: started,
    finishedAt: finished,
    exitCode: raw.State.Status === 'running' ? undefined : raw.State.ExitCode,
    restartCount: raw.RestartCount ?? 0,
    ports,
    networks: Object.keys(raw.NetworkSettings.Networks ?? {}),
    lastHealthOutput: log?.length ? (log[log.length - 1]!.Output ?? '').trim().slice(0, 500) : undefined,
  };
}

/** `KEY=value` lines as a record. */
export function envRecord(lines: string[] | null | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of lines ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return env;
}

export function specFromInspect(raw: RawInspect): ContainerSpec {
  const env = envRecord(raw.Config.Env);
  const binds = (raw.HostConfig?.Binds ?? []).map((b) => {
    const [host = '', container = '', mode = ''] = b.split(':');
    return { host, container, readOnly: mode.split(',').includes('ro') };
  });
  const policy = raw.HostConfig?.RestartPolicy?.Name;
  const networks = Object.keys((raw as { NetworkSettings?: { Networks?: Record<string, unknown> } }).NetworkSettings?.Networks ?? {});
  return {
    name: raw.Name.replace(/^\//, ''),
    image: raw.Config.Image,
    labels: raw.Config.Labels ?? {},
    env,
    binds,
    network: networks[0] ?? raw.HostConfig?.NetworkMode ?? 'bridge',
    restartPolicy: policy === 'always' || policy === 'unless-stopped' || policy === 'on-failure' ? policy : 'no',
  };
}

export interface DockerEngineOptions extends EngineTransportOptions {
  /** Bound for one Engine API call. */
  requestTimeoutMs: number;
}

export class DockerEngine {
  private readonly http: EngineTransport;

  constructor(
    private readonly pool: SshPool,
    private readonly opts: DockerEngineOptions,
  ) {
    this.http = new EngineTransport(pool, opts);
  }

  private async call(
    method: string,
    path: string,
    o: { body?: unknown; signal?: AbortSignal; timeoutMs?: number; maxBytes?: number; okStatuses?: number[] } = {},
  ): Promise<{ status: number; body: Buffer }> {
    const attempt = () => this.http.request(method, path, { timeoutMs: this.opts.requestTimeoutMs, ...o });
    let res;
    try {
      res = await attempt();
    } catch (err) {
      // A kept-alive channel can die between two requests (connection dropped):
      // reads are safe to send once more on a fresh channel.
      if (method !== 'GET' || o.signal?.aborted) throw err;
      res = await attempt();
    }
    const ok = res.status >= 200 && res.status < 300;
    if (!ok && !(o.okStatuses ?? []).includes(res.status)) {
      let msg = res.body.toString('utf8').trim();
      try {
        msg = (JSON.parse(msg) as { message?: string }).message ?? msg;
      } catch {
        /* plain text */
      }
      throw new DockerError(`Docker Engine: ${msg.slice(0, 500)} (HTTP ${res.status})`, res.status, 'Check the container with status; the Docker Engine refused the request.');
    }
    return res;
  }

  async ping(signal?: AbortSignal): Promise<boolean> {
    const r = await this.call('GET', paths.ping(), { signal, timeoutMs: 10_000 });
    return r.body.toString() === 'OK';
  }

  /**
   * Subscribes to the Engine's container and image events (on a channel of
   * its own). `sinceSec` replays the Engine's buffered events from then on
   * first, so nothing that happened while the subscription was being set up
   * is missed. The body is JSON lines; destroy it to unsubscribe.
   */
  events(o: { sinceSec?: number; signal?: AbortSignal } = {}): Promise<IncomingMessage> {
    return this.http.openStream(paths.events(o.sinceSec), { signal: o.signal, headersTimeoutMs: 15_000 });
  }

  /** Containers matching labels and/or exact names, inspected (health, restarts, ports). */
  async listContainers(
    filter: {
      labels?: string[];
      names?: string[];
      all?: boolean;
      /** Client-side choice from the list answer, before the (costlier) inspects. */
      select?: (name: string, labels: Record<string, string>) => boolean;
    },
    signal?: AbortSignal,
  ): Promise<ContainerInfo[]> {
    const r = await this.call('GET', paths.list({ all: filter.all ?? true, labels: filter.labels, names: filter.names }), { signal });
    const list = JSON.parse(r.body.toString('utf8')) as Array<{ Names: string[]; Labels: Record<string, string> | null }>;
    const names = list
      .filter((c) => !filter.select || filter.select((c.Names[0] ?? '').replace(/^\//, ''), c.Labels ?? {}))
      .map((c) => (c.Names[0] ?? '').replace(/^\//, ''))
      .filter(Boolean);
    // The list endpoint lacks health detail and restart counts: inspect each (parallel, sub-ms each).
    const infos = await Promise.all(names.map((n) => this.inspect(n, signal)));
    return infos.filter((i): i is ContainerInfo => i !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** undefined when the container does not exist. */
  async inspect(name: string, signal?: AbortSignal): Promise<ContainerInfo | undefined> {
    const r = await this.call('GET', paths.inspect(name), { signal, okStatuses: [404] });
    if (r.status === 404) return undefined;
    return toContainerInfo(JSON.parse(r.body.toString('utf8')) as RawInspect);
  }

  /**
   * How a container was created (image, env, binds, network, restart
   * policy, labels), so another one can be made the same way. Env may hold
   * secrets: callers must never show it.
   */
  async containerSpec(name: string, signal?: AbortSignal): Promise<ContainerSpec | undefined> {
    const r = await this.call('GET', paths.inspect(name), { signal, okStatuses: [404] });
    if (r.status === 404) return undefined;
    return specFromInspect(JSON.parse(r.body.toString('utf8')) as RawInspect);
  }

  async start(name: string, signal?: AbortSignal): Promise<void> {
    await this.call('POST', paths.start(name), { signal, okStatuses: [304] });
  }

  async stop(name: string, timeoutSec = 10, signal?: AbortSignal): Promise<void> {
    await this.call('POST', paths.stop(name, timeoutSec), { signal, okStatuses: [304], timeoutMs: (timeoutSec + 30) * 1000 });
  }

  async restart(name: string, timeoutSec = 10, signal?: AbortSignal): Promise<void> {
    await this.call('POST', paths.restart(name, timeoutSec), { signal, timeoutMs: (timeoutSec + 60) * 1000 });
  }

  async remove(name: string, opts: { force?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    await this.call('DELETE', paths.remove(name, opts.force ?? false), { signal: opts.signal, okStatuses: [404] });
  }

  async rename(name: string, to: string, signal?: AbortSignal): Promise<void> {
    await this.call('POST', paths.rename(name, to), { signal });
  }

  /** Creates (does not start) a container from a spec. */
  async create(spec: ContainerSpec, signal?: AbortSignal): Promise<string> {
    const r = await this.call('POST', paths.create(spec.name), { body: containerCreateBody(spec), signal });
    return (JSON.parse(r.body.toString('utf8')) as { Id: string }).Id;
  }

  /**
   * Log lines, newest last. `tail` bounds the work on the NAS side; `maxBytes`
   * bounds what crosses the wire even if lines are huge.
   */
  async logs(name: string, query: LogsQuery, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<LogLine[]> {
    return this.logLines(paths.logs(name, query), opts);
  }

  private async logLines(path: string, opts: { signal?: AbortSignal; maxBytes?: number }): Promise<LogLine[]> {
    const r = await this.call('GET', path, {
      signal: opts.signal,
      maxBytes: opts.maxBytes ?? 16 * 1024 * 1024,
      timeoutMs: 60_000,
    });
    // One bounded splitter per stream: a line Docker sent in several frames
    // is joined again, and a line of megabytes keeps only its first 16 KiB.
    const lines: LogLine[] = [];
    const split = {
      stdout: new LineSplitter((text) => lines.push({ stream: 'stdout', text })),
      stderr: new LineSplitter((text) => lines.push({ stream: 'stderr', text })),
    };
    for (const frame of demuxLogFrames(r.body)) split[frame.stream].push(frame.body);
    split.stdout.end();
    split.stderr.end();
    return lines;
  }

  // ---------------------------------------------------------------- Swarm (the target is a manager)

  /** This engine's swarm membership: its node id, and whether it is an active manager. */
  async swarmInfo(signal?: AbortSignal): Promise<{ nodeId: string | null; state: string; isManager: boolean }> {
    const r = await this.call('GET', swarmPaths.info(), { signal });
    const info = JSON.parse(r.body.toString('utf8')) as { Swarm?: { NodeID?: string; LocalNodeState?: string; ControlAvailable?: boolean } };
    return { nodeId: info.Swarm?.NodeID || null, state: info.Swarm?.LocalNodeState ?? 'inactive', isManager: info.Swarm?.ControlAvailable ?? false };
  }

  /** undefined when the service does not exist. */
  async inspectService(name: string, signal?: AbortSignal): Promise<ServiceInfo | undefined> {
    const r = await this.call('GET', swarmPaths.service(name), { signal, okStatuses: [404] });
    if (r.status === 404) return undefined;
    return parseService(JSON.parse(r.body.toString('utf8')) as RawService);
  }

  /**
   * Sends a new spec for the service read at `version` (the manager refuses
   * a stale one with 500 "update out of sequence": read again and retry).
   * `rollback`: the manager's own return to the previous spec instead.
   */
  async updateService(id: string, version: number, spec: RawServiceSpec, o: { rollback?: boolean; signal?: AbortSignal } = {}): Promise<string[]> {
    const r = await this.call('POST', swarmPaths.serviceUpdate(id, version, { rollback: o.rollback }), { body: spec, signal: o.signal });
    const body = r.body.toString('utf8').trim();
    return body ? ((JSON.parse(body) as { Warnings?: string[] | null }).Warnings ?? []) : [];
  }

  async serviceTasks(service: string, signal?: AbortSignal): Promise<TaskInfo[]> {
    const r = await this.call('GET', swarmPaths.tasks(service), { signal });
    return parseTasks(JSON.parse(r.body.toString('utf8')) as RawTask[]);
  }

  async nodes(signal?: AbortSignal): Promise<NodeInfo[]> {
    const r = await this.call('GET', swarmPaths.nodes(), { signal });
    return parseNodes(JSON.parse(r.body.toString('utf8')) as RawNode[]);
  }

  /** All tasks' logs, interleaved as the manager gathers them from the nodes. */
  async serviceLogs(service: string, query: LogsQuery, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<LogLine[]> {
    return this.logLines(swarmPaths.serviceLogs(service, query), opts);
  }

  /** One task's logs (also of a task that has exited: what a failed update reports). */
  async taskLogs(taskId: string, query: LogsQuery, opts: { signal?: AbortSignal; maxBytes?: number } = {}): Promise<LogLine[]> {
    return this.logLines(swarmPaths.taskLogs(taskId, query), opts);
  }

  async imageExists(ref: string, signal?: AbortSignal): Promise<boolean> {
    const r = await this.call('GET', paths.imageInspect(ref), { signal, okStatuses: [404] });
    return r.status !== 404;
  }

  /** The environment an image defines (its ENV lines), to tell it from what a container was given at creation. */
  async imageEnv(ref: string, signal?: AbortSignal): Promise<Record<string, string>> {
    const r = await this.call('GET', paths.imageInspect(ref), { signal, okStatuses: [404] });
    if (r.status === 404) return {};
    const raw = JSON.parse(r.body.toString('utf8')) as { Config?: { Env?: string[] | null } };
    return envRecord(raw.Config?.Env);
  }

  async listImages(reference: string, signal?: AbortSignal): Promise<Array<{ id: string; tags: string[]; created: number; labels: Record<string, string> }>> {
    const r = await this.call('GET', paths.images(reference), { signal });
    const raw = JSON.parse(r.body.toString('utf8')) as Array<{ Id: string; RepoTags: string[] | null; Created: number; Labels: Record<string, string> | null }>;
    return raw.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], created: i.Created, labels: i.Labels ?? {} }));
  }

  /**
   * Every container on the host (running or stopped) with the image it was
   * created from, in one list call: what image retention must never remove.
   */
  async containerImages(signal?: AbortSignal): Promise<ContainerImageUse[]> {
    const r = await this.call('GET', paths.list({ all: true }), { signal });
    const list = JSON.parse(r.body.toString('utf8')) as Array<{ Names?: string[]; Image?: string; ImageID?: string; State?: string }>;
    return list.map((c) => ({
      name: (c.Names?.[0] ?? '').replace(/^\//, ''),
      image: c.Image ?? '',
      imageId: c.ImageID ?? '',
      state: c.State ?? 'unknown',
    }));
  }

  /**
   * Removes an image tag without force (the Engine refuses one a container
   * uses: 409). `gone` when it did not exist (any more).
   */
  async removeImage(ref: string, signal?: AbortSignal): Promise<{ status: 'removed' | 'gone' | 'in_use'; untagged: string[]; deleted: string[] }> {
    const r = await this.call('DELETE', paths.imageRemove(ref), { signal, okStatuses: [404, 409], timeoutMs: 120_000 });
    if (r.status === 404) return { status: 'gone', untagged: [], deleted: [] };
    if (r.status === 409) return { status: 'in_use', untagged: [], deleted: [] };
    const items = JSON.parse(r.body.toString('utf8') || '[]') as Array<{ Untagged?: string; Deleted?: string }>;
    return {
      status: 'removed',
      untagged: items.flatMap((i) => (i.Untagged ? [i.Untagged] : [])),
      deleted: items.flatMap((i) => (i.Deleted ? [i.Deleted] : [])),
    };
  }

  /** `docker build` on the NAS with output streamed line by line. */
  async build(
    o: { contextDir: string; tag: string; labels?: Record<string, string>; buildArgs?: Record<string, string> },
    onLine?: (line: string) => void,
    signal?: AbortSignal,
    timeoutMs = 30 * 60_000,
  ): Promise<void> {
    const argv = buildImageArgv(this.opts.dockerBinary, o);
    const r = await this.pool.exec(argv, {
      sudo: this.opts.sudo,
      timeoutMs,
      signal,
      keep: 'tail',
      maxOutputBytes: 256 * 1024,
      onStdoutLine: onLine,
      onStderrLine: onLine,
    });
    if (r.code !== 0) {
      const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-15).join('\n');
      throw new RemoteCommandError(`docker build failed (exit ${r.code}):\n${tail}`, r.code, r.stderr);
    }
  }

  close(): void {
    this.http.close();
  }
}

/**
 * Builds what tool handlers run on from the configuration: per target, one
 * SSH pool to its NAS and the Docker engine over it (shared by its apps);
 * per app, its services (config view, read coalescer with status snapshots
 * kept honest by a Docker event subscription per target, previous-color watch).
 * One job registry and one event hub serve them all, so `job_status`,
 * metrics and webhooks see every operation. Plus the NAS probe for /healthz
 * and the close hook called once on shutdown.
 */
import { readPreviousStop } from './bluegreen/previous-color.js';
import { PreviousColorWatch } from './bluegreen/previous-watch.js';
import { stopPreviousIfDue } from './bluegreen/operations/stop-previous.js';
import type { Config, RecreateConfig, Secrets, SwarmConfig } from './config.js';
import { findApp, type AppEntry, type RootConfig, type Strategy } from './config/targets.js';
import { createDockerEngine, type DockerEngine } from './docker/index.js';
import { JobRegistry } from './jobs.js';
import { ReadCoalescer } from './ops/coalesce.js';
import { TargetSnapshots } from './ops/snapshots.js';
import type { Logger } from './log.js';
import { createNotifier } from './notify/index.js';
import { OperationEventHub, type OperationEvents } from './ops/events.js';
import { colorContainerName, LABEL_VERSION } from './domain/index.js';
import { createNasPool, targetRootRules } from './ssh/index.js';
import type { SshPool } from './ssh/pool.js';

/*
 * What tool handlers and the engine get to work with, for one app on one
 * target. Handlers never see the SSH pool's raw connections: only the pool's
 * bounded exec/stream API, the Docker engine and the app's own config view.
 */
export interface AppServices<C> {
  /** The target's name (`default` for the single-NAS file). */
  target: string;
  /** This app's view: its target's SSH/sudo/docker/nginx parts, its own keys, the global sections. */
  config: C;
  /** The target's pool, shared by its apps. */
  pool: SshPool;
  docker: DockerEngine;
  log: Logger;
  /** Long operations (deploy, rollback, …) running in this process, every target and app. */
  jobs: JobRegistry;
  /**
   * Identical NAS reads in flight share one trip, and status reads are kept a
   * short while (server.statusSnapshotMs) while the NAS's Docker events are
   * watched; every operation phase of this app, every write tool call on it
   * and every container/image event on its NAS invalidates.
   */
  reads: ReadCoalescer;
  /** Observers of write operations (metrics, webhooks); the engine tells them how each goes. */
  events?: OperationEvents;
}

/** A blue-green app (two colors behind nginx). */
export interface Services extends AppServices<Config> {
  /** Wakes this server when the previous color is due to stop (deploy.keepPrevious minutes); absent in one-shot CLI runs. */
  previousColor?: PreviousColorWatch;
}

/** A recreate app (one container, replaced behind a health gate). */
export type RecreateServices = AppServices<RecreateConfig>;

/** A swarm-service app (one Swarm service, rolled by its manager; src/swarm). */
export type SwarmServices = AppServices<SwarmConfig>;


/** One app on one target, with the services of its strategy. */
export type AppScope =
  | { target: string; app: string; strategy: 'blue-green'; services: Services }
  | { target: string; app: string; strategy: 'recreate'; services: RecreateServices }
  | { target: string; app: string; strategy: 'swarm-service'; services: SwarmServices };

/** Every app of every target, and what they share. */
export interface Fleet {
  config: RootConfig;
  /** In the file's order: the first is the default. */
  scopes: AppScope[];
  /** The named app (default: the first target, its first app); throws with the configured names. */
  scope(target?: string, app?: string): AppScope;
  jobs: JobRegistry;
  events: OperationEventHub;
  /** Each target's pool (metrics, /healthz). */
  pools: Map<string, SshPool>;
}

export interface ServiceBundle {
  fleet: Fleet;
  /** The first blue-green app's services (tests and tools written for one app). */
  services: Services;
  /** Every target's NAS reachable? Must not throw; bounded in time. */
  probeNas(): Promise<boolean>;
  close(): Promise<void>;
}

export interface ServiceOptions {
  /**
   * Keep the timed stop of the previous color (deploy.keepPrevious minutes):
   * pick up a due time left on the NAS and wake up for it. A server does;
   * one-shot CLI runs do not (default true).
   */
  watchPreviousColor?: boolean;
  /**
   * Keep status snapshots (server.statusSnapshotMs) with a Docker event
   * subscription per target. A server does; one-shot CLI runs do not (default true).
   */
  statusSnapshots?: boolean;
}

export async function createServices(root: RootConfig, secrets: Secrets, log: Logger, opts: ServiceOptions = {}): Promise<ServiceBundle> {
  const jobs = new JobRegistry();
  // Observers of write operations: webhooks here; each server instance's metrics subscribe on their own.
  const events = new OperationEventHub(log.child({ component: 'events' }));
  const pools = new Map<string, SshPool>();
  const engines = new Map<string, DockerEngine>();
  const scopes: AppScope[] = [];
  const watches: PreviousColorWatch[] = [];
  const readsByApp = new Map<string, ReadCoalescer>();
  const snapshots: TargetSnapshots[] = [];
  const snapshotMs = (opts.statusSnapshots ?? true) ? root.server.statusSnapshotMs : 0;
  for (const t of root.targets) {
    const first = t.apps[0]!.config;
    const targetSecrets: Secrets = { ...secrets, sudoPassword: secrets.sudoPasswordByTarget?.[t.name] ?? secrets.sudoPassword };
    const multi = root.targets.length > 1;
    const pool = createNasPool({ nas: first.nas, sudo: first.sudo, docker: first.docker }, targetSecrets, log.child({ component: 'ssh', ...(multi ? { target: t.name } : {}) }), [], targetRootRules(t.apps));
    const docker = createDockerEngine(pool, first);
    pools.set(t.name, pool);
    engines.set(t.name, docker);
    // Status snapshots for the apps whose status reads containers and files (swarm status reads the manager each time).
    const snap =
      snapshotMs > 0 && t.apps.some((a) => a.strategy !== 'swarm-service')
        ? new TargetSnapshots({
            ttlMs: snapshotMs,
            open: ({ sinceSec, signal }) => docker.events({ sinceSec, signal }),
            log: log.child({ component: 'docker-events', ...(multi ? { target: t.name } : {}) }),
          })
        : undefined;
    if (snap) snapshots.push(snap);
    for (const a of t.apps) {
      const reads = snap && a.strategy !== 'swarm-service' ? snap.reads() : new ReadCoalescer();
      readsByApp.set(`${t.name}\0${a.name}`, reads);
      const base = { target: t.name, pool, docker, log: multi || t.apps.length > 1 ? log.child({ target: t.name, app: a.name }) : log, jobs, events, reads };
      scopes.push(scopeOf(a, base));
    }
  }
  // A status read that began before one of an app's operation steps is not shared with callers after it.
  const invalidate = (e: { operationId: string; target?: string; app?: string }) => {
    const r = e.target !== undefined && e.app !== undefined ? readsByApp.get(`${e.target}\0${e.app}`) : undefined;
    if (r) r.invalidate();
    else for (const x of readsByApp.values()) x.invalidate();
  };
  const appOfOperation = new Map<string, { target: string; app: string }>();
  events.subscribe({
    started: (e) => {
      appOfOperation.set(e.operationId, { target: e.target, app: e.app });
      invalidate(e);
    },
    phase: (e) => invalidate({ ...e, ...appOfOperation.get(e.operationId) }),
    finished: (e) => {
      invalidate(e);
      appOfOperation.delete(e.operationId);
    },
  });
  const blueGreen = scopes.filter((s): s is Extract<AppScope, { strategy: 'blue-green' }> => s.strategy === 'blue-green');
  const notifier = createNotifier(root, secrets, log.child({ component: 'notify' }), {
    versionOf: async (color, e) => {
      const s = blueGreen.find((x) => x.target === e?.target && x.app === e?.app) ?? blueGreen[0];
      if (!s) return null;
      const info = await s.services.docker.inspect(colorContainerName(s.app, color === 'green' ? 'green' : 'blue'), AbortSignal.timeout(5_000));
      return info?.labels[LABEL_VERSION] ?? null;
    },
  });
  if (notifier) events.subscribe(notifier.listener);
  if (opts.watchPreviousColor ?? true) {
    for (const s of blueGreen) {
      const svc = s.services;
      const watch = new PreviousColorWatch(
        svc.log.child({ component: 'keep-previous' }),
        () => stopPreviousIfDue(svc),
        async () => (await readPreviousStop(svc.pool, svc.config.state.dir))?.stopAt,
      );
      svc.previousColor = watch;
      watches.push(watch);
      // In the background: startup does not wait for the NAS.
      void watch.resume();
    }
  }
  const fleet: Fleet = {
    config: root,
    scopes,
    scope: (target, app) => {
      const a = findApp(root, target, app);
      return scopes.find((s) => s.target === a.target && s.app === a.name)!;
    },
    jobs,
    events,
    pools,
  };
  const services = blueGreen[0]?.services ?? (scopes[0]!.services as unknown as Services);
  return {
    fleet,
    services,
    // Reachable = SSH login works and the Docker Engine answers through it, on every target.
    probeNas: async () => {
      try {
        const ok = await Promise.all([...engines.values()].map((d) => d.ping(AbortSignal.timeout(5_000)).catch(() => false)));
        return ok.every(Boolean);
      } catch {
        return false;
      }
    },
    close: async () => {
      // A deploy cut off here is journaled on the NAS and recoverable, but
      // finishing it is better: give running jobs a bounded time first.
      await jobs.drain(20_000);
      await Promise.all(watches.map((w) => w.close()));
      // Tell the owner how those ended (bounded: a dead receiver does not hold the shutdown).
      await notifier?.drain(10_000);
      await Promise.all(snapshots.map((x) => x.close()));
      for (const d of engines.values()) d.close();
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
  };
}

/** What the tool inventory builds handlers from: every app, and the fleet for fleet-wide handlers. */
export function toolScopesOf(fleet: Fleet): { scopes: AppScope[]; fleet: Fleet } {
  return { scopes: fleet.scopes, fleet };
}

function scopeOf(a: AppEntry, base: Omit<AppServices<unknown>, 'config'>): AppScope {
  if (a.strategy === 'recreate') return { target: a.target, app: a.name, strategy: 'recreate', services: { ...base, config: a.config } };
  if (a.strategy === 'swarm-service') return { target: a.target, app: a.name, strategy: 'swarm-service', services: { ...base, config: a.config } };
  return { target: a.target, app: a.name, strategy: 'blue-green', services: { ...base, config: a.config } };
}

export type { Strategy };

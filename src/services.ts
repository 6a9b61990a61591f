/**
 * What tool handlers and the engine run on (Services), and how it is built
 * from the configuration: the SSH pool to the NAS and the Docker engine over
 * it, plus the NAS probe for /healthz and the close hook called once on
 * shutdown.
 */
import { readPreviousStop } from './bluegreen/previous-color.js';
import { PreviousColorWatch } from './bluegreen/previous-watch.js';
import { stopPreviousIfDue } from './bluegreen/operations/stop-previous.js';
import type { Config, Secrets } from './config.js';
import { createDockerEngine, type DockerEngine } from './docker/index.js';
import { JobRegistry } from './jobs.js';
import { ReadCoalescer } from './ops/coalesce.js';
import type { Logger } from './log.js';
import { createNotifier } from './notify/index.js';
import { OperationEventHub, type OperationEvents } from './ops/events.js';
import { colorContainerName, LABEL_VERSION } from './domain/index.js';
import { createNasPool } from './ssh/index.js';
import type { SshPool } from './ssh/pool.js';

/**
 * What tool handlers and the CLI get to work with. Handlers never see the
 * SSH pool's raw connections: only the pool's bounded exec/stream API, the
 * Docker engine and the config.
 */
export interface Services {
  config: Config;
  pool: SshPool;
  docker: DockerEngine;
  log: Logger;
  /** Long operations (deploy, rollback, …) running in this process. */
  jobs: JobRegistry;
  /** Wakes this server when the previous color is due to stop (deploy.keepPrevious minutes); absent in one-shot CLI runs. */
  previousColor?: PreviousColorWatch;
  /** Identical NAS reads in flight share one trip; every operation phase invalidates. */
  reads: ReadCoalescer;
  /** Observers of write operations (metrics, webhooks); the engine tells them how each goes. */
  events?: OperationEvents;
}

export interface ServiceBundle {
  services: Services;
  /** NAS reachable? Must not throw; bounded in time. */
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
}

export async function createServices(config: Config, secrets: Secrets, log: Logger, opts: ServiceOptions = {}): Promise<ServiceBundle> {
  const pool = createNasPool(config, secrets, log.child({ component: 'ssh' }));
  const docker = createDockerEngine(pool, config);
  const jobs = new JobRegistry();
  // Observers of write operations: webhooks here; each server instance's metrics subscribe on their own.
  const events = new OperationEventHub(log.child({ component: 'events' }));
  const notifier = createNotifier(config, secrets, log.child({ component: 'notify' }), {
    versionOf: async (color) => {
      const info = await docker.inspect(colorContainerName(config.app.name, color === 'green' ? 'green' : 'blue'), AbortSignal.timeout(5_000));
      return info?.labels[LABEL_VERSION] ?? null;
    },
  });
  if (notifier) events.subscribe(notifier.listener);
  // A status read that began before an operation's step is not shared with callers after it.
  const reads = new ReadCoalescer();
  const invalidate = () => reads.invalidate();
  events.subscribe({ started: invalidate, phase: invalidate, finished: invalidate });
  const services: Services = { config, pool, docker, log, jobs, events, reads };
  let watch: PreviousColorWatch | undefined;
  if (opts.watchPreviousColor ?? true) {
    watch = new PreviousColorWatch(
      log.child({ component: 'keep-previous' }),
      () => stopPreviousIfDue(services),
      async () => (await readPreviousStop(pool, config.state.dir))?.stopAt,
    );
    services.previousColor = watch;
    // In the background: startup does not wait for the NAS.
    void watch.resume();
  }
  return {
    services,
    // Reachable = SSH login works and the Docker Engine answers through it.
    probeNas: async () => {
      try {
        return await docker.ping(AbortSignal.timeout(5_000));
      } catch {
        return false;
      }
    },
    close: async () => {
      // A deploy cut off here is journaled on the NAS and recoverable, but
      // finishing it is better: give running jobs a bounded time first.
      await jobs.drain(20_000);
      await watch?.close();
      // Tell the owner how those ended (bounded: a dead receiver does not hold the shutdown).
      await notifier?.drain(10_000);
      docker.close();
      await pool.close();
    },
  };
}

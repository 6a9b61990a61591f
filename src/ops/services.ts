/**
 * What tool handlers and the CLI get to work with, for one app on one
 * target. Handlers never see the SSH pool's raw connections: only the pool's
 * bounded exec/stream API, the Docker engine and the app's own config view.
 */
import type { Config, RecreateConfig } from '../config.js';
import type { DockerEngine } from '../docker/index.js';
import type { PreviousColorWatch } from '../bluegreen/previous-watch.js';
import type { JobRegistry } from '../jobs.js';
import type { Logger } from '../log.js';
import type { OperationEvents } from './events.js';
import type { SshPool } from '../ssh/pool.js';
import type { ReadCoalescer } from './coalesce.js';

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
  /** Identical NAS reads in flight share one trip; every operation phase of this app invalidates. */
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

/**
 * What tool handlers and the CLI get to work with. Handlers never see the
 * SSH pool's raw connections: only the pool's bounded exec/stream API, the
 * Docker engine and the config.
 */
import type { Config } from '../config.js';
import type { DockerEngine } from '../docker/index.js';
import type { PreviousColorWatch } from '../bluegreen/previous-watch.js';
import type { JobRegistry } from '../jobs.js';
import type { Logger } from '../log.js';
import type { OperationEvents } from './events.js';
import type { SshPool } from '../ssh/pool.js';
import type { ReadCoalescer } from './coalesce.js';

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

/**
 * A Swarm app: one service on a Swarm manager reached over SSH, updated by
 * the manager itself (start-first, health-gated, automatic rollback) instead
 * of our two colors behind nginx.
 *
 * Its config is the `strategy: swarm-service` app of a `driver: swarm`
 * target (src/config.ts swarmAppSchema); the driver needs that plus the
 * target's services (SSH pool and Docker engine reaching the manager).
 */
import { swarmAppSchema, type Config, type SwarmAppConfig } from '../config.js';
import type { Services, SwarmServices } from '../services.js';

export type SwarmAppInput = Omit<SwarmAppConfig, 'name' | 'replicas' | 'containerPort' | 'healthPath' | 'updateMonitorSeconds' | 'updateTimeoutSeconds' | 'logsTimeoutSeconds'> &
  Partial<Pick<SwarmAppConfig, 'replicas' | 'containerPort' | 'healthPath' | 'updateMonitorSeconds' | 'updateTimeoutSeconds' | 'logsTimeoutSeconds'>> & { stateDir?: string };

export interface SwarmApp {
  /** The app's name (tools' `app`); labels and image tags use it. */
  name: string;
  service: string;
  checkoutDir: string;
  replicas: number;
  containerPort: number;
  healthPath: string;
  network: string | undefined;
  frontUrl: string | undefined;
  publicHealthUrl: string | undefined;
  updateMonitorSeconds: number;
  updateTimeoutSeconds: number;
  /** Bound for one log read (the manager sometimes never ends a log stream). */
  logsTimeoutSeconds: number;
  /** Lock, journal and history of this app. */
  stateDir: string;
}

export function toSwarmApp(a: SwarmAppConfig, stateDir: string): SwarmApp {
  return {
    name: a.name,
    service: a.service ?? a.name,
    checkoutDir: a.checkoutDir,
    replicas: a.replicas,
    containerPort: a.containerPort,
    healthPath: a.healthPath,
    network: a.network,
    frontUrl: a.frontUrl,
    publicHealthUrl: a.publicHealthUrl,
    updateMonitorSeconds: a.updateMonitorSeconds,
    updateTimeoutSeconds: a.updateTimeoutSeconds,
    logsTimeoutSeconds: a.logsTimeoutSeconds,
    stateDir,
  };
}

/** An app from loose input (tests, a single-target config): validated by the same schema as the config file's. */
export function resolveSwarmApp(appName: string, input: SwarmAppInput, targetStateDir: string): SwarmApp {
  const { stateDir, ...rest } = input;
  const a = swarmAppSchema.parse({ ...rest, name: appName });
  return toSwarmApp(a, stateDir ?? `${targetStateDir.replace(/\/+$/, '')}/${appName}`);
}

/** What every swarm operation runs on: the target's services and the app. */
export interface SwarmContext {
  svc: Services;
  app: SwarmApp;
}

/**
 * The target's services seen from this app. runOperation, runAsJob and the
 * state-file reads take the state dir, the app's name and the deploy
 * settings from `config` (nothing of blue-green's app section), so the swarm
 * app's own are put there; the view is typed as the engine's Services
 * because runOperation is written against it.
 */
export function swarmContext(svc: Services | SwarmServices, app: SwarmApp): SwarmContext {
  const config = { ...svc.config, app: { ...svc.config.app, name: app.name, checkoutDir: app.checkoutDir }, state: { ...svc.config.state, dir: app.stateDir } };
  return { svc: { ...svc, config: config as unknown as Config } as Services, app };
}

/** The context of a configured swarm-service app (its state dir is the per-app view's). */
export function swarmContextOf(s: SwarmServices): SwarmContext {
  return swarmContext(s, toSwarmApp(s.config.app, s.config.state.dir));
}

/**
 * A Swarm app: one service on a Swarm manager reached over SSH, updated by
 * the manager itself (start-first, health-gated, automatic rollback) instead
 * of our two colors behind nginx.
 *
 * The schema mirrors the `strategy: swarm-service` app of a `driver: swarm`
 * target; the driver only needs this plus a Services bundle whose pool and
 * Docker engine reach the manager.
 */
import { z } from 'zod';
import { NAME_RE } from '../config.js';
import type { Services } from '../services.js';

const name = z.string().regex(NAME_RE, 'must be a Docker-style name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)');
const absPath = z.string().regex(/^\/[^\0\n]*$/, 'must be an absolute path');

export const swarmAppSchema = z
  .object({
    strategy: z.literal('swarm-service').default('swarm-service'),
    /** The Swarm service's name (default: the app's name). */
    service: name.optional(),
    /** Git checkout on the manager (Dockerfile at its root): the image is built there. */
    checkoutDir: absPath,
    /** Desired replicas, for status warnings (the service's own spec is what runs). */
    replicas: z.number().int().min(1).max(100).default(2),
    containerPort: z.number().int().min(1).max(65535).default(8081),
    healthPath: z.string().regex(/^\/[\x21-\x7e]*$/).default('/health'),
    /** The overlay network the tasks and the front share. */
    network: name.optional(),
    /** The front's URL (through whatever proxy reaches the tasks). */
    frontUrl: z.url().optional(),
    publicHealthUrl: z.url().optional(),
    /** How long each new task must stay healthy before the update moves on (the rollback trigger window). */
    updateMonitorSeconds: z.number().min(1).max(600).default(5),
    /** Bound for following one update to its end. */
    updateTimeoutSeconds: z.number().int().min(10).max(7_200).default(600),
    /** Lock, journal and history of this app (default <target state dir>/<app>). */
    stateDir: absPath.optional(),
  })
  .strict();

export type SwarmAppInput = z.input<typeof swarmAppSchema>;

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
  stateDir: string;
}

export function resolveSwarmApp(appName: string, input: SwarmAppInput, targetStateDir: string): SwarmApp {
  const a = swarmAppSchema.parse(input);
  return {
    name: appName,
    service: a.service ?? appName,
    checkoutDir: a.checkoutDir,
    replicas: a.replicas,
    containerPort: a.containerPort,
    healthPath: a.healthPath,
    network: a.network,
    frontUrl: a.frontUrl,
    publicHealthUrl: a.publicHealthUrl,
    updateMonitorSeconds: a.updateMonitorSeconds,
    updateTimeoutSeconds: a.updateTimeoutSeconds,
    stateDir: a.stateDir ?? `${targetStateDir.replace(/\/+$/, '')}/${appName}`,
  };
}

/** What every swarm operation runs on: the target's services and the app. */
export interface SwarmContext {
  svc: Services;
  app: SwarmApp;
}

/**
 * The target's services seen from this app: runOperation and the status
 * reads take the state dir and the app's name from `config`, so the app's
 * own are put there (the lock, journal and history are per app).
 */
export function swarmContext(svc: Services, app: SwarmApp): SwarmContext {
  const config = { ...svc.config, app: { ...svc.config.app, name: app.name, checkoutDir: app.checkoutDir }, state: { ...svc.config.state, dir: app.stateDir } };
  return { svc: { ...svc, config }, app };
}

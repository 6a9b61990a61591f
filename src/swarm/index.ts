/**
 * The Swarm driver: what the tools call for an app of a `driver: swarm`
 * target. It has the same five verbs as the single-host engine, and the
 * same contract, which is what a Kubernetes driver would implement next
 * (README, "Swarm target"):
 *
 *   status   what serves (image, version), replicas running/desired, each
 *            instance's node, state and health, an update in progress,
 *            lock / interrupted operation / history
 *   deploy   build an immutable image from the checkout, hand it to the
 *            orchestrator's health-gated rolling update, follow it to its
 *            end with progress; a failed update is rolled back and reported
 *            with the failing instance's logs
 *   rollback to the previous spec
 *   restart  rolling, zero-downtime
 *   logs     of the app or one instance
 *
 * Write verbs run inside runOperation (lock, heartbeat, journal, history).
 */
import type { OperationOptions } from '../bluegreen/operation.js';
import type { SwarmContext } from './app.js';
import { swarmDeploy, planSwarmDeploy, type SwarmDeployRequest, type SwarmDeployResult, type SwarmPlanStep } from './deploy.js';
import { swarmLogs, type SwarmLogsRequest, type SwarmLogsResult } from './logs.js';
import { swarmRestart, type SwarmRestartResult } from './restart.js';
import { swarmRollback, type SwarmRollbackResult } from './rollback.js';
import { swarmStatus, swarmStatusText, type SwarmAppStatus } from './status.js';

export { resolveSwarmApp, swarmContext, swarmContextOf, toSwarmApp, type SwarmApp, type SwarmAppInput, type SwarmContext } from './app.js';
export * from './deploy.js';
export * from './logs.js';
export * from './restart.js';
export * from './rollback.js';
export * from './status.js';
export type { FailedTaskReport } from './update.js';

type Run = Omit<OperationOptions, 'kind'>;

/** One app on an orchestrator that does the rolling update itself (Swarm today; Kubernetes could be next). */
export interface RolloutDriver<Status, DeployResult, RollbackResult, RestartResult, LogsResult> {
  readonly kind: string;
  status(opts?: { historyLimit?: number; signal?: AbortSignal }): Promise<Status>;
  statusText(st: Status): string;
  planDeploy(req: SwarmDeployRequest): SwarmPlanStep[];
  deploy(req: SwarmDeployRequest, run: Run): Promise<DeployResult>;
  rollback(run: Run): Promise<RollbackResult>;
  restart(run: Run): Promise<RestartResult>;
  logs(req: SwarmLogsRequest, signal?: AbortSignal): Promise<LogsResult>;
}

export type SwarmDriver = RolloutDriver<SwarmAppStatus, SwarmDeployResult, SwarmRollbackResult, SwarmRestartResult, SwarmLogsResult>;

export function swarmDriver(ctx: SwarmContext): SwarmDriver {
  return {
    kind: 'swarm',
    status: (opts) => swarmStatus(ctx, opts),
    statusText: swarmStatusText,
    planDeploy: (req) => planSwarmDeploy(ctx, req),
    deploy: (req, run) => swarmDeploy(ctx, req, run),
    rollback: (run) => swarmRollback(ctx, run),
    restart: (run) => swarmRestart(ctx, run),
    logs: (req, signal) => swarmLogs(ctx, req, signal),
  };
}

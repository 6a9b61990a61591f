/**
 * The blue-green engine's public face: one function per operation (each in
 * operations/, each run by runOperation in operation.ts, which owns the lock,
 * heartbeat, journal and history), their dry-run plans, and the helpers
 * callers need. Traffic only ever moves to a color that passed its health
 * gate, and moves back by itself when verification through the front fails.
 */
export { LockLostError, newOperationId, OperationError, runOperation, type OperationContext, type OperationOptions, type Who } from './operation.js';
export { cleanVersion, deploy, imageTag, planDeploy, type DeployPlan, type DeployRequest, type DeployResult } from './operations/deploy.js';
export { rollback, type RollbackResult } from './operations/rollback.js';
export { rollbackTo, type RollbackToResult } from './operations/rollback-to.js';
export { planRestart, restart, type RestartRequest, type RestartResult } from './operations/restart.js';
export { stop, type StopRequest, type StopResult } from './operations/stop.js';
export { planReset, resetOauth, type ResetPlan, type ResetResult } from './operations/oauth-reset.js';
export { planRestore, restoreOauth, type RestorePlan, type RestoreRequest, type RestoreResult } from './operations/oauth-restore.js';
export { listBackups } from './operations/oauth-files.js';
export { recover, releaseLock, UNREADABLE_LOCK_CONFIRM, type RecoverResult, type ReleaseResult } from './operations/recover.js';
export { describeProbe } from './operations/shared.js';
export { planText, type PlanStep } from './plan.js';

/**
 * The recreate engine's public face (for apps nginx does not front, such as
 * loop-auth): one container named after the app, replaced by a new one
 * behind a health gate, the old one kept stopped as `<app>-previous` for
 * rollback. Every write runs through the blue-green engine's runOperation
 * (lock, heartbeat, journal, history in the app's own state dir).
 *
 * Unlike blue-green there is a gap in service while the old container stops
 * and the new one starts (one host port, one container at a time): each
 * result reports it as `swapGapMs`.
 */
export { deploy, type RecreateDeployRequest, type RecreateDeployResult } from './operations/deploy.js';
export { rollback, rollbackTo, type RecreateRollbackResult } from './operations/rollback.js';
export { restart, type RecreateRestartRequest, type RecreateRestartResult } from './operations/restart.js';
export { stop, type RecreateStopRequest, type RecreateStopResult } from './operations/stop.js';
export { recover, type RecreateRecoverResult } from './operations/recover.js';
export { planDeploy, planRestart, type RecreatePlan } from './plan.js';
export { appNames, liveName, outgoingName, previousName, type RecreatePhase } from './names.js';
export { waitAppHealthy } from './gate.js';

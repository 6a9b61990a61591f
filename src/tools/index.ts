/**
 * Every tool the server offers. The inventory (src/tools/inventory.ts)
 * checks them at startup and filters them (read-only mode, scopes).
 *
 * Add a tool: write `src/tools/<name>.ts` exporting a `defineTool({ … })`
 * built on `Services`, then list it here.
 */
import type { Services } from '../services.js';
import { dashboardTool } from './dashboard.js';
import { healthTool } from './health.js';
import { logsTool } from './logs.js';
import { statusTool } from './status.js';
import { deployTool, jobStatusTool, recoverTool, releaseLockTool, resetOauthTool, restartTool, restoreOauthTool, rollbackTool, stopTool } from './write.js';
import { recreateHandlers } from './recreate-handlers.js';
import type { AnyToolDefinition, Shape, ToolDefinition, ToolHandler } from './types.js';
import type { RecreateServices } from '../services.js';

/**
 * A definition that also serves apps of the recreate strategy. Attached
 * here, not in the definitions' own modules: the recreate handlers' types
 * are taken from those definitions.
 */
function servingRecreate<S, I extends Shape, O extends Shape>(def: ToolDefinition<S, I, O>, recreate: (svc: RecreateServices) => ToolHandler<I, O>): ToolDefinition<S, I, O> {
  return { ...def, strategies: { ...def.strategies, recreate } };
}

export const allTools: AnyToolDefinition<Services>[] = [
  servingRecreate(statusTool, recreateHandlers.status),
  dashboardTool,
  servingRecreate(logsTool, recreateHandlers.logs),
  servingRecreate(healthTool, recreateHandlers.health),
  jobStatusTool,
  servingRecreate(deployTool, recreateHandlers.deploy_blue_green),
  servingRecreate(rollbackTool, recreateHandlers.rollback),
  servingRecreate(restartTool, recreateHandlers.restart),
  servingRecreate(stopTool, recreateHandlers.stop),
  resetOauthTool,
  restoreOauthTool,
  servingRecreate(recoverTool, recreateHandlers.recover),
  servingRecreate(releaseLockTool, recreateHandlers.release_lock),
];

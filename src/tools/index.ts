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
import type { AnyToolDefinition } from './types.js';

export const allTools: AnyToolDefinition<Services>[] = [
  statusTool,
  dashboardTool,
  logsTool,
  healthTool,
  jobStatusTool,
  deployTool,
  rollbackTool,
  restartTool,
  stopTool,
  resetOauthTool,
  restoreOauthTool,
  recoverTool,
  releaseLockTool,
];

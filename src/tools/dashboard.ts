import { z } from 'zod';
import { readStatus, statusText } from '../ops/status.js';
import type { Services } from '../services.js';
import { DASHBOARD_URI } from '../ui/dashboard-uri.js';
import { SCOPE_WRITE } from './guard.js';
import { statusOutputShape } from './status.js';
import { defineTool } from './types.js';
import { rollbackTool } from './write.js';

/**
 * What the dashboard offers a caller: Rollback only to those who may call it
 * (the guard would refuse anyway; a button that always fails is noise), and
 * "roll back to this deployment" only once `rollback` takes a deployment id.
 */
export function dashboardActions(opts: { readOnly: boolean; scopes: readonly string[]; rollbackInput: object }): { rollback: boolean; rollbackTo: boolean } {
  const rollback = !opts.readOnly && opts.scopes.includes(SCOPE_WRITE);
  return { rollback, rollbackTo: rollback && 'to' in opts.rollbackInput };
}

/**
 * The status as an interactive dashboard (MCP Apps): hosts that render apps
 * show src/ui/view in an iframe, fed with this result, refreshed through
 * `status`, with a Rollback button that calls `rollback` through the host.
 * `status` itself stays text-first for hosts without UI.
 */
export const dashboardTool = defineTool({
  name: 'dashboard',
  title: 'Deploy dashboard',
  description:
    'Shows the app as a live dashboard in hosts that render MCP Apps (ChatGPT, Claude): which color is live, both colors\' versions, ' +
    'health and uptime, the deploy lock and a running operation, recent deployments as a timeline, and a Rollback button. ' +
    'Use it when the user wants to see or watch the deployment state; the result is the same as `status` (with a text summary), ' +
    'plus which actions this caller may take. Read-only: it changes nothing itself.',
  inputSchema: {
    history: z.number().int().min(0).max(50).default(10).describe('How many recent deployments to show (0-50).'),
  },
  outputSchema: {
    ...statusOutputShape(),
    actions: z
      .object({
        rollback: z.boolean().describe('This caller may call `rollback` (write access, server not read-only)'),
        rollbackTo: z.boolean().describe('`rollback` accepts `to`: a deployment id to return to'),
      })
      .describe('What the dashboard offers this caller'),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  ui: { resourceUri: DASHBOARD_URI },
  handler: (svc: Services) => async (args, ctx) => {
    const st = await readStatus(svc, { historyLimit: args.history, signal: ctx.signal });
    const actions = dashboardActions({ readOnly: svc.config.server.readOnly, scopes: ctx.caller.scopes, rollbackInput: rollbackTool.inputSchema });
    return { structured: { ...st, actions }, text: statusText(st) };
  },
});

import { z } from 'zod';
import { readStatus, statusText } from '../ops/status.js';
import { HISTORY_RESOURCE_LIMIT, RESOURCE_URI } from '../resources/index.js';
import type { Fleet, Services } from '../services.js';
import { fleetStatusText, readFleetStatus } from '../ops/fleet-status.js';
import { containerSummarySchema, deploymentRecordSchema, freshnessShape, interruptedOperationSchema, lockSchema, retainedVersionSchema } from './schemas.js';
import { defineTool } from './types.js';
import { swarmHandlers } from './swarm.js';

/**
 * What `status` returns as structuredContent (the dashboard returns it too;
 * its view reads it). A factory, like schemas.ts: fresh zod instances per use.
 */
export const statusOutputShape = () => ({
  app: z.string(),
  liveColor: z.enum(['blue', 'green']).nullable().describe('The color nginx routes to, read from the upstream file on the NAS'),
  upstream: z.object({ file: z.string(), servers: z.array(z.string()), deploymentId: z.string().nullable(), readable: z.boolean() }),
  colors: z.object({ blue: containerSummarySchema().nullable(), green: containerSummarySchema().nullable() }),
  siblings: z.array(containerSummarySchema()),
  otherAppContainers: z.array(containerSummarySchema()),
  lock: lockSchema(),
  interruptedOperation: interruptedOperationSchema(),
  recentDeployments: z.array(deploymentRecordSchema()),
  retainedVersions: z
    .array(retainedVersionSchema())
    .describe('Images kept on the NAS, newest first: rollback with `to` (a deploymentId, version or image) goes back to one of them'),
  previousColorStop: z
    .object({ container: z.string(), color: z.enum(['blue', 'green']), stopAt: z.string(), overdue: z.boolean() })
    .nullable()
    .describe('With deploy.keepPrevious set to minutes: when the previous color is stopped'),
  oauthBackups: z.array(z.string()).describe('Backups of the OAuth keys and DB, newest first (restore_oauth puts one back)'),
  warnings: z.array(z.string()),
  ...freshnessShape(),
});

/** One app's row in the every-app summary (src/ops/fleet-status.ts). */
const appRowShape = () =>
  z.object({
    target: z.string(),
    app: z.string(),
    strategy: z.string(),
    serving: z.string().nullable().describe('blue-green: the live color container; recreate: the app container'),
    version: z.string().nullable(),
    state: z.string().nullable(),
    health: z.string().nullable(),
    lock: z.object({ held: z.boolean(), operation: z.string().nullable(), operationId: z.string().nullable() }),
    interrupted: z.string().nullable(),
    lastOperation: z.string().nullable(),
    warnings: z.array(z.string()),
    error: z.string().nullable().describe('Why this app could not be read (the others still are)'),
    ageMs: z.number().nullable().describe('How old the row was when returned (ms): up to server.statusSnapshotMs when served from the status snapshot; null for swarm apps and unreadable ones'),
  });

/**
 * The status tool's output: one app's status (every field of
 * statusOutputShape, plus its target and strategy), or, without target and
 * app on a server with several, `apps`: one row per app of every target.
 */
const statusToolOutputShape = () => {
  const one = Object.fromEntries(Object.entries(statusOutputShape()).map(([k, v]) => [k, (v as z.ZodType).optional()])) as {
    [K in keyof ReturnType<typeof statusOutputShape>]: z.ZodOptional<ReturnType<typeof statusOutputShape>[K]>;
  };
  return {
    target: z.string().optional().describe('The target (NAS) of this app'),
    strategy: z.string().optional().describe('blue-green, recreate or swarm-service'),
    ...one,
    // A recreate app (src/tools/recreate-handlers.ts): one container and its previous version instead of two colors.
    container: containerSummarySchema().nullable().optional().describe('recreate: the container named after the app, the one that serves'),
    previous: containerSummarySchema().nullable().optional().describe('recreate: <app>-previous, the version before the last deploy (stopped); rollback without `to` brings it back'),
    endpoint: z.object({ hostPort: z.number().nullable(), healthPath: z.string() }).optional().describe('recreate: where the health gate probes (127.0.0.1:<hostPort> on the NAS; null: the container HEALTHCHECK)'),
    swarm: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('swarm-service apps: the service, what is live (image, version), replicas running/desired, each task (node, state, health), an update in progress, what rollback returns to'),
    apps: z.array(appRowShape()).optional().describe('Without target and app: every app of every target, one row each'),
  };
};

export const statusTool = defineTool({
  name: 'status',
  title: 'App status',
  description:
    'Start here. Shows the app on the NAS as it is right now: which color (blue/green) nginx routes traffic to, ' +
    'both color containers and the watched siblings (state, health, image, version, uptime, restarts, ports), ' +
    'the deploy lock and who holds it (with its last heartbeat), an interrupted operation if one exists, the last deployments, the OAuth backups and the versions kept for rollback. ' +
    'For an app with the recreate strategy: its one container (`container`), the previous version kept stopped (`previous`) and where its health is probed (`endpoint`) instead of colors. ' +
    'With several targets or apps and neither `target` nor `app` given: one summary line per app of every target. ' +
    'Read-only and fast: identical calls share one read of the NAS, and a read may be served again for a moment (`fromSnapshot`, `ageMs`; ' +
    'never after a write made through this server or a Docker event on the NAS; files another process writes, such as its lock, can be up to server.statusSnapshotMs old). ' +
    'Call it before and after any change.',
  inputSchema: {
    history: z.number().int().min(0).max(50).default(5).describe('How many recent deployments to include (0-50).'),
  },
  outputSchema: statusToolOutputShape(),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  scope: 'app-or-all',
  handler: (svc: Services) => async (args, ctx) => {
    const st = await readStatus(svc, { historyLimit: args.history, signal: ctx.signal });
    // Only a few deployments fit here; the full history is a resource.
    const links = st.recentDeployments.length
      ? [{ uri: RESOURCE_URI.history, name: 'deployment history', description: `Every recorded operation, newest first (at most ${HISTORY_RESOURCE_LIMIT})`, mimeType: 'text/plain' }]
      : [];
    return { structured: { target: svc.target, strategy: 'blue-green', ...st }, text: statusText(st), links };
  },
  strategies: { 'swarm-service': swarmHandlers.status },
  fleetHandler: (fleet: Fleet) => async (_args, ctx) => {
    const f = await readFleetStatus(fleet, ctx.signal);
    return { structured: { apps: f.apps, checkedAt: f.checkedAt }, text: fleetStatusText(f) };
  },
});

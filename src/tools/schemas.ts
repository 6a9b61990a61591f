/**
 * Output-schema pieces shared by several tools. Each is a factory, so every
 * use is its own zod instance: JSON Schema output stays inline (no $ref),
 * which several MCP clients require.
 */
import { z } from 'zod';

export const containerSummarySchema = () =>
  z.object({
    name: z.string(),
    color: z.enum(['blue', 'green']).nullable(),
    state: z.string().describe('created, running, restarting, exited, …'),
    health: z.string().describe('healthy, unhealthy, starting, or none (no HEALTHCHECK)'),
    image: z.string(),
    version: z.string().nullable(),
    commit: z.string().nullable(),
    deploymentId: z.string().nullable(),
    startedAt: z.string().nullable(),
    uptimeSeconds: z.number().nullable(),
    restartCount: z.number(),
    ports: z.array(z.string()),
    exitCode: z.number().nullable(),
  });

export const lockSchema = () =>
  z.object({
    held: z.boolean(),
    holder: z.string().nullable(),
    operation: z.string().nullable(),
    since: z.string().nullable(),
    operationId: z.string().nullable(),
    host: z.string().nullable(),
    pid: z.number().nullable(),
    heartbeatAt: z.string().nullable().describe("The holder's last heartbeat; recover and release_lock refuse until it is stale"),
  });

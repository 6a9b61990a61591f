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

/** An operation that started and did not finish (the journal on the NAS). */
export const interruptedOperationSchema = () =>
  z
    .object({
      operationId: z.string(),
      kind: z.string(),
      phase: z.string(),
      startedAt: z.string(),
      updatedAt: z.string(),
      finished: z.boolean(),
      heartbeatAt: z.string().optional(),
      detail: z.record(z.string(), z.string()).describe('Phase details (image, colors, …) as text'),
    })
    .nullable();

/** One line of the deployment history on the NAS. */
export const deploymentRecordSchema = () =>
  z.object({
    id: z.string(),
    kind: z.string(),
    fromColor: z.string().nullable(),
    toColor: z.string().nullable(),
    image: z.string().nullable(),
    version: z.string().nullable(),
    commit: z.string().nullable(),
    who: z.string().nullable(),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
    outcome: z.string(),
    message: z.string().nullable(),
  });

/** An image kept on the NAS for `rollback` with `to`. */
export const retainedVersionSchema = () =>
  z.object({
    image: z.string(),
    imageId: z.string(),
    version: z.string().nullable(),
    commit: z.string().nullable(),
    deploymentId: z.string().nullable(),
    deployedAt: z.string().nullable(),
  });

/**
 * How fresh a status answer is: every status carries it (src/ops/status.ts).
 * A factory: fresh zod instances per use.
 */
export const freshnessShape = () => ({
  checkedAt: z.string().describe('When the reads on the NAS ended'),
  readAt: z.string().describe('When the reads on the NAS began: the state shown is at least this recent'),
  ageMs: z
    .number()
    .describe('How old this answer was when returned (ms since readAt): about 0 for a read made for this call, up to server.statusSnapshotMs from the snapshot'),
  fromSnapshot: z
    .boolean()
    .describe(
      'Served from the short-lived status snapshot, which every write of this server and every Docker container/image event on the NAS drops; ' +
        'state files another process writes (its lock, journal, the upstream) can be that old',
    ),
});

/**
 * The write tools. Each goes through the guard (scope ops:write, audit,
 * redaction) and the engine (NAS lock, journal, history). Long ones run as
 * jobs (see jobs.ts).
 */
import { z } from 'zod';
import {
  deploy,
  planDeploy,
  planReset,
  planRestart,
  planText,
  recover,
  planRestore,
  releaseLock,
  resetOauth,
  restoreOauth,
  restart,
  rollback,
  rollbackTo,
  stop,
} from '../bluegreen/engine.js';
import type { Services } from '../services.js';
import { jobOutputShape, jobText, jobView, runAsJob, waitSecondsInput } from './jobs.js';
import { OAUTH_BACKUP_NAME_RE } from '../bluegreen/commands.js';
import { defineTool, ToolError, type ToolContext } from './types.js';
import { RECREATE_GAP_NOTE } from './recreate-handlers.js';
import { swarmHandlers } from './swarm.js';

const containerName = z.string().min(1).max(128).regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'a container name');

export const deployTool = defineTool({
  name: 'deploy_blue_green',
  title: 'Deploy (blue-green, zero downtime)',
  description:
    'Deploys a new version of the app with zero downtime: optionally `git pull --ff-only` (or a given ref) of the app checkout on the NAS, ' +
    'builds a new immutable image, starts it as the idle color beside the live one, waits until it is healthy, switches nginx to it, ' +
    'verifies through the front, and keeps the old color for instant rollback. Any failure before or during verification leaves or puts ' +
    'traffic back on the old color and reports why with the new container\'s last log lines. Use dry_run first to see the plan. ' +
    'Runs as a job: if it takes longer than wait_seconds, the answer carries a job id for job_status. ' +
    RECREATE_GAP_NOTE,
  inputSchema: {
    pull: z.boolean().default(true).describe('git pull --ff-only the checkout on the NAS before building (ignored when ref is given).'),
    ref: z
      .string()
      .min(1)
      .max(100)
      .regex(/^(?!-)[A-Za-z0-9._/-]+$/, 'a branch, tag or commit')
      .optional()
      .describe('Deploy this branch, tag or commit instead of pulling.'),
    dry_run: z.boolean().default(false).describe('Only return the plan (every step and command); change nothing.'),
    wait_seconds: waitSecondsInput,
  },
  outputSchema: {
    ...jobOutputShape,
    jobId: jobOutputShape.jobId.nullable(),
    state: z.enum(['running', 'succeeded', 'failed', 'planned']),
    startedAt: z.string().nullable(),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (args, ctx) => {
    const who = { caller: ctx.caller.id };
    const req = { pull: args.pull, ref: args.ref };
    if (args.dry_run) {
      const plan = await planDeploy(svc, req, ctx.signal);
      return {
        structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result: { ...plan } },
        text: `dry run: ${plan.message}\n${planText(plan.steps)}`,
      };
    }
    return runAsJob(svc, ctx, 'deploy', args.wait_seconds, (j) => deploy(svc, req, { ...j, who }));
  },
  strategies: { 'swarm-service': swarmHandlers.deploy },
});

export const rollbackTool = defineTool({
  name: 'rollback',
  title: 'Roll back (previous color, or a kept version)',
  description:
    'Without `to`: switches traffic back to the other color (the previous version). If that container is running (it passed its gate and served ' +
    'before) it gets a quick health check, nginx is switched, and once nginx\'s old workers stop accepting, probes through the front confirm that ' +
    'it answers (under a second). If it is stopped it is started and health-gated first, then watched through the front for a short window. ' +
    'Switches back if verification fails. Use after a bad deploy. ' +
    'With `to` (a deployment id, version or image tag; status lists the kept ones under retainedVersions): deploys that kept image to the idle color ' +
    'with the live config, through the same health gate, switch and verification as a deploy (zero downtime, no rebuild). ' +
    'An unknown or pruned version is refused before anything changes, listing what is available. ' +
    `${RECREATE_GAP_NOTE} There, without \`to\`, <app> and <app>-previous trade places.`,
  inputSchema: {
    to: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:+-]*$/, 'a deployment id, version or image tag')
      .optional()
      .describe('Roll back to this deployment id, version or image tag (from status retainedVersions) instead of the other color.'),
    wait_seconds: waitSecondsInput,
  },
  outputSchema: jobOutputShape,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (args, ctx) =>
    runAsJob(svc, ctx, 'rollback', args.wait_seconds, (j) =>
      args.to === undefined ? rollback(svc, { ...j, who: { caller: ctx.caller.id } }) : rollbackTo(svc, args.to, { ...j, who: { caller: ctx.caller.id } }),
    ),
  strategies: { 'swarm-service': swarmHandlers.rollback },
});

export const restartTool = defineTool({
  name: 'restart',
  title: 'Restart the app (zero downtime)',
  description:
    'Restarts the app for a config-only change, with zero downtime: the idle color is recreated from the live one\'s spec (same image, ' +
    'env, volumes, network), health-gated, switched to and verified through the front; the old color is then recycled (or stopped, per ' +
    'deploy.keepPrevious). Traffic never lands on a restarting container. `in_place: true` instead restarts the live container itself: ' +
    'requests FAIL while it restarts. Use dry_run to see the plan. ' +
    `${RECREATE_GAP_NOTE} There, restart recreates <app> from its own image (in_place: docker restart); <app>-previous is left alone.`,
  inputSchema: {
    in_place: z.boolean().default(false).describe('Restart the live container in place. DROPS TRAFFIC while it restarts; only when the idle color cannot be used.'),
    dry_run: z.boolean().default(false).describe('Only return the plan; change nothing.'),
    wait_seconds: waitSecondsInput,
  },
  outputSchema: { ...jobOutputShape, jobId: jobOutputShape.jobId.nullable(), state: z.enum(['running', 'succeeded', 'failed', 'planned']), startedAt: z.string().nullable() },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (args, ctx) => {
    const req = { inPlace: args.in_place };
    if (args.dry_run) {
      const plan = await planRestart(svc, req, ctx.signal);
      return {
        structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result: { ...plan } },
        text: `dry run (nothing changed):\n${planText(plan.steps)}`,
      };
    }
    return runAsJob(svc, ctx, 'restart', args.wait_seconds, (j) => restart(svc, req, { ...j, who: { caller: ctx.caller.id } }));
  },
  strategies: { 'swarm-service': swarmHandlers.restart },
});

export const stopTool = defineTool({
  name: 'stop',
  title: 'Stop a container',
  description:
    'Stops one container of the app (a color) or a watched sibling. Destructive: `confirm` must repeat the container name. ' +
    'Refuses to stop the live color (all traffic would fail) unless `force` is also true. ' +
    'For a recreate app: <app> (only with force) or <app>-previous.',
  inputSchema: {
    container: containerName.describe('The container to stop, e.g. loop-api-green.'),
    confirm: z.string().max(128).describe('Repeat the container name exactly to confirm.'),
    force: z.boolean().default(false).describe('Allow stopping the live color (causes an outage).'),
  },
  outputSchema: { operationId: z.string(), container: z.string(), state: z.string(), wasLive: z.boolean() },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (args, ctx) => {
    const out = await stop(svc, { container: args.container, confirm: args.confirm, force: args.force }, { who: { caller: ctx.caller.id }, progress: () => {}, signal: ctx.signal });
    return { structured: out, text: `${out.container} is ${out.state}${out.wasLive ? ' — it was the LIVE color: requests fail until another color is live' : ''}` };
  },
});

export const resetOauthTool = defineTool({
  name: 'reset_oauth',
  title: 'Reset OAuth keys and DB (with backup)',
  description:
    "Resets the app's OAuth signing keys and database, like the old rebuild-all, but nothing is lost: both are moved into a timestamped " +
    'backup directory on the NAS (never deleted), then the idle color is recreated from the live one\'s spec, starts with fresh keys and DB, ' +
    'is health-gated and switched to (zero downtime; the old color is then recycled or stopped). Every issued token stops working. ' +
    'restore_oauth puts a backup back. Destructive: `confirm` must be the app name. Use dry_run to see the plan and backup path.',
  inputSchema: {
    confirm: z.string().max(128).optional().describe('The app name (e.g. loop-api), to confirm. Not needed with dry_run.'),
    dry_run: z.boolean().default(false).describe('Only return the plan; change nothing.'),
    wait_seconds: waitSecondsInput,
  },
  outputSchema: { ...jobOutputShape, jobId: jobOutputShape.jobId.nullable(), state: z.enum(['running', 'succeeded', 'failed', 'planned']), startedAt: z.string().nullable() },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (args, ctx) => {
    const who = { caller: ctx.caller.id };
    if (args.dry_run) {
      const plan = await planReset(svc, ctx.signal);
      return {
        structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result: { ...plan } },
        text: `dry run (nothing changed); backup would go to ${plan.backupDir}:\n${planText(plan.steps)}`,
      };
    }
    if (args.confirm !== svc.config.app.name) {
      throw new ToolError(`confirm must be the app name ("${svc.config.app.name}")`, 'This invalidates every OAuth token; run with dry_run first, then confirm.', 'confirm');
    }
    return runAsJob(svc, ctx, 'reset_oauth', args.wait_seconds, (j) => resetOauth(svc, { ...j, who }));
  },
});

export const restoreOauthTool = defineTool({
  name: 'restore_oauth',
  title: 'Restore OAuth keys and DB from a backup',
  description:
    'Puts a backup of the OAuth signing keys and database (made by reset_oauth; status lists them in oauthBackups) back in place, byte for byte ' +
    '(cp -a; the backup stays as it is). What is live now is first moved into its own backup (oauth-restore-…), so nothing is lost. ' +
    'Then, like reset_oauth, the idle color is recreated on the restored files, health-gated and switched to: zero downtime. ' +
    'Tokens issued since the backup stop working; those from before work again. Destructive: `confirm` must be the app name. ' +
    'Without `backup`, the newest reset backup is used. Use dry_run to see the plan.',
  inputSchema: {
    backup: z.string().max(80).regex(OAUTH_BACKUP_NAME_RE, 'a backup name as status lists it, e.g. oauth-reset-20261206T031500').optional().describe('The backup to restore (default: the newest reset backup).'),
    confirm: z.string().max(128).optional().describe('The app name (e.g. loop-api), to confirm. Not needed with dry_run.'),
    dry_run: z.boolean().default(false).describe('Only return the plan; change nothing.'),
    wait_seconds: waitSecondsInput,
  },
  outputSchema: { ...jobOutputShape, jobId: jobOutputShape.jobId.nullable(), state: z.enum(['running', 'succeeded', 'failed', 'planned']), startedAt: z.string().nullable() },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (args, ctx) => {
    const req = { backup: args.backup };
    if (args.dry_run) {
      const plan = await planRestore(svc, req, ctx.signal);
      return {
        structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result: { ...plan } },
        text: `dry run (nothing changed); would restore ${plan.backup}:\n${planText(plan.steps)}`,
      };
    }
    if (args.confirm !== svc.config.app.name) {
      throw new ToolError(`confirm must be the app name ("${svc.config.app.name}")`, 'This replaces the live OAuth keys and DB; run with dry_run first, then confirm.', 'confirm');
    }
    return runAsJob(svc, ctx, 'restore_oauth', args.wait_seconds, (j) => restoreOauth(svc, req, { ...j, who: { caller: ctx.caller.id } }));
  },
});

export const recoverTool = defineTool({
  name: 'recover',
  title: 'Recover an interrupted operation',
  description:
    'Finishes or undoes an operation that was cut off (its server died mid-deploy): keeps traffic on a healthy color (switching back if the ' +
    'new one is unhealthy), stops a new color that was never switched to, records the outcome under the operation\'s own id and releases ' +
    'the lock. Refused while the lock\'s heartbeat is fresh (its holder is running, here or elsewhere): it then names the holder.',
  inputSchema: {},
  outputSchema: {
    recovered: z.boolean(),
    operationId: z.string().nullable(),
    phaseWhenCut: z.string().nullable(),
    liveColor: z.string().nullable(),
    actions: z.array(z.string()),
    message: z.string().nullable(),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  access: 'write',
  handler: (svc: Services) => async (_args, ctx) => {
    const out = await recover(svc, { who: { caller: ctx.caller.id }, progress: (m) => void ctx.progress(m), signal: ctx.signal });
    return { structured: out, text: out.recovered ? `recovered ${out.operationId}: ${out.actions.join('; ')}` : String(out.message) };
  },
});

function releaseLockHandler(svc: Services) {
  return async (args: { confirm: string }, ctx: ToolContext) => {
    const out = await releaseLock(svc, args.confirm, ctx.signal);
    return { structured: out, text: out.released ? `released the lock of ${out.operationId} (held by ${out.holder} since ${out.since})` : String(out.message) };
  };
}

export const releaseLockTool = defineTool({
  name: 'release_lock',
  title: 'Release the deploy lock',
  description:
    'Releases the deploy lock held by an operation whose holder is gone. `confirm` must be the lock\'s operation id (status shows it); ' +
    'only that very lock is removed (compare-and-delete). Refused while its heartbeat is fresh (the holder is running). ' +
    'Prefer recover, which also checks traffic.',
  inputSchema: { confirm: z.string().min(1).max(128).describe("The lock's operation id, exactly as status shows it.") },
  outputSchema: {
    released: z.boolean(),
    operationId: z.string().nullable(),
    holder: z.string().nullable(),
    since: z.string().nullable(),
    message: z.string().nullable(),
  },
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  access: 'write',
  handler: releaseLockHandler,
  strategies: { 'swarm-service': swarmHandlers.releaseLock(releaseLockHandler) },
});

export const jobStatusTool = defineTool({
  name: 'job_status',
  title: 'Job status',
  description:
    'Progress, phase and outcome of a long operation started by deploy_blue_green, rollback, restart, reset_oauth or restore_oauth in this server ' +
    '(the job id is the operation id that status and the history show). ' +
    'Without job_id: the most recent job. wait_seconds lets you wait for it to finish. After a server restart, use status instead.',
  inputSchema: {
    job_id: z.string().min(1).max(100).regex(/^[A-Za-z0-9_.-]+$/, 'a job id').optional().describe('The job id returned by the write tool.'),
    wait_seconds: z.number().int().min(0).max(300).default(0).describe('Wait up to this long for the job to finish (0-300 s).'),
  },
  outputSchema: { ...jobOutputShape, kind: z.string(), error: z.string().nullable(), hint: z.string().nullable() },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  // Jobs of every target and app share one registry: the job id alone names one.
  scope: 'fleet',
  handler: (svc: Services) => async (args, ctx) => {
    const id = args.job_id ?? svc.jobs.list()[0]?.id;
    if (!id) throw new ToolError('no job has run in this server yet', 'status shows the recent deployments recorded on the NAS.', 'not_found');
    const j = args.wait_seconds > 0 ? await svc.jobs.wait(id, args.wait_seconds * 1000, (m) => void ctx.progress(m), ctx.signal) : svc.jobs.get(id);
    if (!j) throw new ToolError(`no job ${id} in this server`, 'Jobs live in memory: after a restart, status shows what happened.', 'not_found');
    return {
      structured: { ...jobView(j, 50), kind: j.kind, error: j.error, hint: j.hint },
      text: `${jobText(j, { error: true })}${j.hint ? `\nhint: ${j.hint}` : ''}`,
    };
  },
});

/**
 * The tools' handlers for an app with the recreate strategy. Each takes the
 * same input as the blue-green tool of the same name (its definition's
 * inputSchema, checked by the types below) and returns what that tool's
 * outputSchema describes, except status and health, whose answers describe
 * one container and its previous version instead of two colors
 * (recreateStatusOutputShape, recreateHealthOutputShape).
 *
 * A tool dispatches on the scope's strategy:
 *   scope.strategy === 'recreate' ? recreateHandlers.deploy_blue_green(scope.services)(args, ctx) : …
 *
 * Long operations run as jobs through the same runAsJob as blue-green (the
 * job id is the operation id; progress goes to the client while it waits).
 */
import { z } from 'zod';
import { releaseLock } from '../bluegreen/engine.js';
import { planText } from '../bluegreen/plan.js';
import { getRecreateHealth, getRecreateLogs, recreateHealthText } from '../ops/recreate-read.js';
import { readRecreateStatus, recreateStatusText } from '../ops/recreate-status.js';
import type { RecreateServices } from '../services.js';
import { deploy, planDeploy, planRestart, recover, restart, rollback, rollbackTo, stop } from '../recreate/engine.js';
import { HISTORY_RESOURCE_LIMIT, RESOURCE_URI } from '../resources/index.js';
import type { healthTool } from './health.js';
import { runAsJob } from './jobs.js';
import type { logsTool } from './logs.js';
import { containerSummarySchema, deploymentRecordSchema, freshnessShape, interruptedOperationSchema, lockSchema, retainedVersionSchema } from './schemas.js';
import type { statusTool } from './status.js';
import type { Shape, ToolHandler } from './types.js';
import { fenceUntrusted } from './untrusted.js';
import type { deployTool, recoverTool, releaseLockTool, restartTool, rollbackTool, stopTool } from './write.js';

/** A handler factory taking the input of `T` (a blue-green tool definition) and answering output shape `O`. */
type HandlerLike<T extends { inputSchema: Shape; outputSchema: Shape }, O extends Shape = T['outputSchema']> = (svc: RecreateServices) => ToolHandler<T['inputSchema'], O>;

/** The recreate strategy's status answer (structuredContent). A factory: fresh zod instances per use. */
export const recreateStatusOutputShape = () => ({
  target: z.string(),
  app: z.string(),
  strategy: z.literal('recreate'),
  container: containerSummarySchema().nullable().describe('The container named after the app: the one that serves'),
  previous: containerSummarySchema().nullable().describe('<app>-previous: the version before the last deploy (stopped); rollback without `to` brings it back'),
  otherAppContainers: z.array(containerSummarySchema()),
  endpoint: z.object({ hostPort: z.number().nullable(), healthPath: z.string() }),
  lock: lockSchema(),
  interruptedOperation: interruptedOperationSchema(),
  recentDeployments: z.array(deploymentRecordSchema()),
  retainedVersions: z.array(retainedVersionSchema()),
  warnings: z.array(z.string()),
  ...freshnessShape(),
});

/** The recreate strategy's health answer. */
export const recreateHealthOutputShape = () => ({
  healthy: z.boolean().describe("Whether the app answered 2xx on its port (without a port: Docker's health state)"),
  checks: z.array(
    z.object({ target: z.string(), url: z.string(), ok: z.boolean(), status: z.number().nullable(), latencyMs: z.number(), body: z.string(), error: z.string().nullable() }),
  ),
  containers: z.array(
    z.object({ color: z.null(), role: z.enum(['live', 'previous']), name: z.string(), exists: z.boolean(), state: z.string().nullable(), dockerHealth: z.string().nullable() }),
  ),
});

/** What a tool description should say of a recreate app, beside the blue-green text. */
export const RECREATE_GAP_NOTE =
  'For an app with the recreate strategy (one container, no nginx in front) deploy, rollback and restart replace the container: ' +
  'the app does NOT answer for a moment while the old container stops and the new one starts (the result reports swapGapMs); ' +
  'a new version that fails its health gate is removed and the old one started again.';

const planned = (plan: { steps: Parameters<typeof planText>[0]; message: string }) => ({
  structured: { jobId: null, state: 'planned' as const, phase: 'plan', startedAt: null, endedAt: null, progress: [], result: { ...plan } },
  text: `dry run: ${plan.message}\n${planText(plan.steps)}`,
});

export const recreateHandlers = {
  status: ((svc) => async (args, ctx) => {
    const st = await readRecreateStatus(svc, { historyLimit: args.history, signal: ctx.signal });
    const links = st.recentDeployments.length
      ? [{ uri: RESOURCE_URI.history, name: 'deployment history', description: `Every recorded operation, newest first (at most ${HISTORY_RESOURCE_LIMIT})`, mimeType: 'text/plain' }]
      : [];
    return { structured: { target: svc.target, ...st }, text: recreateStatusText(st), links };
  }) satisfies HandlerLike<typeof statusTool, ReturnType<typeof recreateStatusOutputShape>>,

  health: ((svc) => async (args, ctx) => {
    const r = await getRecreateHealth(svc, { timeoutMs: args.timeout_ms, signal: ctx.signal });
    const bodies = r.checks
      .filter((c) => c.body || c.error)
      .map((c) => `${c.target}: ${c.error ? `error: ${c.error}` : ''}${c.body ? `body: ${c.body.slice(0, 300)}` : ''}`)
      .join('\n');
    return {
      structured: { ...r, checks: r.checks.map((c) => ({ ...c, status: c.status ?? null, error: c.error ?? null })), containers: r.containers.map((c) => ({ ...c, color: null })) },
      text: bodies ? `${recreateHealthText(r)}\n${fenceUntrusted('health answers', bodies)}` : recreateHealthText(r),
    };
  }) satisfies HandlerLike<typeof healthTool, ReturnType<typeof recreateHealthOutputShape>>,

  logs: ((svc) => async (args, ctx) => {
    const r = await getRecreateLogs(
      svc,
      { container: args.container, lines: args.lines, since: args.since, grep: args.grep, regex: args.regex, stream: args.stream, timestamps: args.timestamps, maxBytes: args.max_bytes },
      ctx.signal,
    );
    const header = `${r.container}: ${r.returnedLines} line(s)${args.grep ? ` matching ${JSON.stringify(args.grep)} (of ${r.scannedLines} read)` : ''}${r.note ? `\nnote: ${r.note}` : ''}`;
    const body = r.lines.map((l) => (args.stream === 'both' && l.stream === 'stderr' ? `[err] ${l.text}` : l.text)).join('\n');
    const cut = r.truncated || (!args.grep && r.returnedLines >= args.lines);
    const links = cut ? [{ uri: RESOURCE_URI.logs(r.container), name: `logs of ${r.container}`, description: 'The newest 5000 lines (≤ 1 MiB)', mimeType: 'text/plain' }] : [];
    return { structured: r, text: r.lines.length ? `${header}\n${fenceUntrusted(`log lines of ${r.container}`, body)}` : header, links };
  }) satisfies HandlerLike<typeof logsTool>,

  deploy_blue_green: ((svc) => async (args, ctx) => {
    const req = { pull: args.pull, ref: args.ref };
    if (args.dry_run) return planned(await planDeploy(svc, req, ctx.signal));
    return runAsJob(svc, ctx, 'deploy', args.wait_seconds, (j) => deploy(svc, req, { ...j, who: { caller: ctx.caller.id } }));
  }) satisfies HandlerLike<typeof deployTool>,

  rollback: ((svc) => async (args, ctx) =>
    runAsJob(svc, ctx, 'rollback', args.wait_seconds, (j) =>
      args.to === undefined ? rollback(svc, { ...j, who: { caller: ctx.caller.id } }) : rollbackTo(svc, args.to, { ...j, who: { caller: ctx.caller.id } }),
    )) satisfies HandlerLike<typeof rollbackTool>,

  restart: ((svc) => async (args, ctx) => {
    const req = { inPlace: args.in_place };
    if (args.dry_run) return planned(await planRestart(svc, req, ctx.signal));
    return runAsJob(svc, ctx, 'restart', args.wait_seconds, (j) => restart(svc, req, { ...j, who: { caller: ctx.caller.id } }));
  }) satisfies HandlerLike<typeof restartTool>,

  stop: ((svc) => async (args, ctx) => {
    const out = await stop(svc, { container: args.container, confirm: args.confirm, force: args.force }, { who: { caller: ctx.caller.id }, progress: () => {}, signal: ctx.signal });
    return { structured: out, text: `${out.container} is ${out.state}${out.wasLive ? ' — it was the app itself: requests to it fail until restart or rollback' : ''}` };
  }) satisfies HandlerLike<typeof stopTool>,

  recover: ((svc) => async (_args, ctx) => {
    const out = await recover(svc, { who: { caller: ctx.caller.id }, progress: (m) => void ctx.progress(m), signal: ctx.signal });
    return {
      structured: { recovered: out.recovered, operationId: out.operationId, phaseWhenCut: out.phaseWhenCut, liveColor: out.serving, actions: out.actions, message: out.message },
      text: out.recovered ? `recovered ${out.operationId}: ${out.actions.join('; ')}` : String(out.message),
    };
  }) satisfies HandlerLike<typeof recoverTool>,

  release_lock: ((svc) => async (args, ctx) => {
    const out = await releaseLock(svc, args.confirm, ctx.signal);
    return { structured: out, text: out.released ? `released the lock of ${out.operationId} (held by ${out.holder} since ${out.since})` : String(out.message) };
  }) satisfies HandlerLike<typeof releaseLockTool>,
};

export type RecreateToolName = keyof typeof recreateHandlers;

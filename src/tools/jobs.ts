/**
 * Running an engine operation as a job from a tool call: start it, pass its
 * progress to the client as MCP progress notifications while waiting a
 * bounded time, then answer with the outcome or, if it is still running, the
 * job id to follow with job_status. The job does not stop when the call does.
 */
import { z } from 'zod';
import { newOperationId } from '../bluegreen/operation.js';
import type { OperationKind } from '../domain/index.js';
import type { JobHandle, JobSnapshot } from '../jobs.js';
import type { AppServices } from '../services.js';
import { ToolError, type ToolContext } from './types.js';
import { fenceUntrusted } from './untrusted.js';

export const jobOutputShape = {
  jobId: z.string(),
  state: z.enum(['running', 'succeeded', 'failed']),
  phase: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  progress: z.array(z.string()).describe('Newest progress messages, oldest first'),
  result: z.record(z.string(), z.unknown()).nullable().describe('The outcome once finished'),
};

export const waitSecondsInput = z
  .number()
  .int()
  .min(0)
  .max(600)
  .optional()
  .describe('How long to wait for the outcome before returning the job id (0-600 s; default from config, 45 s).');

export function jobView(j: JobSnapshot, lastN = 15) {
  return {
    jobId: j.id,
    state: j.state,
    phase: j.phase,
    startedAt: j.startedAt,
    endedAt: j.endedAt,
    progress: j.progress.slice(-lastN),
    result: j.result,
  };
}

/**
 * What a job produced, as one text: its error, result and newest progress
 * messages. All of it may quote the NAS (build output, last log lines,
 * stderr of a failed command), so callers show it fenced.
 */
function jobDetail(j: JobSnapshot, o: { error: boolean; progress: number }): string {
  const parts: string[] = [];
  if (o.error && j.error) parts.push(`error: ${j.error}`);
  if (j.result) parts.push(`result: ${JSON.stringify(j.result, null, 1).slice(0, 4000)}`);
  if (o.progress > 0 && j.progress.length) parts.push(`last progress:\n${j.progress.slice(-o.progress).join('\n')}`);
  return parts.join('\n');
}

export function jobText(j: JobSnapshot, o: { error?: boolean } = {}): string {
  const head =
    j.state === 'running'
      ? `job ${j.id} is still running (phase ${j.phase}); call job_status with job_id "${j.id}" to follow it`
      : `job ${j.id} ${j.state}`;
  const detail = jobDetail(j, { error: o.error ?? false, progress: 5 });
  return detail ? `${head}\n${fenceUntrusted(`${j.kind} job output`, detail)}` : head;
}

/** What an operation run as a job gets: its id (the job's), and where its progress and phases go. */
export interface JobRun {
  id: string;
  progress: (message: string) => void;
  onPhase: (name: string) => void;
}

/**
 * Starts an operation as a job and waits for it as the tool's answer. The
 * job id IS the operation id (lock, journal, history and job_status all name
 * the same thing), and the operation's phases are the job's.
 * Failures become isError with a hint.
 */
/** What runAsJob needs of an app's services, whatever its strategy. */
export type JobServices = Pick<AppServices<{ deploy: { toolWaitSeconds: number } }>, 'jobs' | 'config'>;

export async function runAsJob(svc: JobServices, ctx: ToolContext, kind: OperationKind, waitSeconds: number | undefined, run: (j: JobRun) => Promise<object>) {
  const id = newOperationId(kind);
  const started = svc.jobs.start(
    kind,
    async (h: JobHandle) => (await run({ id: h.id, progress: (m) => h.progress(m), onPhase: (p) => h.phase(p) })) as Record<string, unknown>,
    id,
  );
  const wait = (waitSeconds ?? svc.config.deploy.toolWaitSeconds) * 1000;
  const j = (await svc.jobs.wait(started.id, wait, (m) => void ctx.progress(m), ctx.signal)) ?? started;
  if (j.state === 'failed') {
    const detail = jobDetail(j, { error: true, progress: 0 });
    throw new ToolError(
      `${kind} failed (job ${j.id})\n${fenceUntrusted(`${kind} job output`, detail || 'error: unknown error')}`,
      j.hint ?? 'Run status to see the state of the app.',
      'operation_failed',
    );
  }
  return { structured: jobView(j), text: jobText(j) };
}

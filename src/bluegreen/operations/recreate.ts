/**
 * The idle color recreated from the live one's spec (same image, env,
 * volumes, network) and cut over to: how restart, the OAuth reset and the
 * OAuth restore make the app start afresh without a request landing on a
 * restarting container.
 */
import type { ContainerSpec } from '../../docker/index.js';
import { type Color, colorContainerName, otherColor } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { OperationError, type OperationContext } from '../operation.js';
import type { PlanStep } from '../plan.js';
import { colorSpec, cutover, CutoverFailed, cutoverPlan, LABEL_OPERATION, type Cutover, type CutoverPhase, type CutoverResult } from './cutover.js';
import { configGate, lastLogs } from './shared.js';

export interface RecreatePlan {
  from: Color;
  to: Color;
  live: ContainerSpec;
  cutover: Cutover;
}

/** The cut-over that recreates the idle color from the live one; refuses when the live container is missing. */
export async function planRecreate(svc: Services, from: Color, operationId: string | null, signal?: AbortSignal): Promise<RecreatePlan> {
  const app = svc.config.app;
  const fromName = colorContainerName(app.name, from);
  const live = await svc.docker.containerSpec(fromName, signal);
  if (!live) throw new OperationError(`the live container ${fromName} does not exist`, 'status shows the containers; deploy to create one.');
  const to = otherColor(from);
  const d = svc.config.deploy;
  return {
    from,
    to,
    live,
    cutover: {
      from,
      to,
      prepare: { recreate: colorSpec(svc, live, to, live.image, operationId ? { [LABEL_OPERATION]: operationId } : {}) },
      gate: configGate(svc),
      verify: { seconds: d.verifySeconds, intervalMs: d.verifyIntervalMs },
      retire: d.keepPrevious === 'running' ? 'recycle' : 'stopped',
    },
  };
}

export const recreatePlanSteps = (svc: Services, p: RecreatePlan): PlanStep[] => cutoverPlan(svc, p.cutover);

/** Runs the cut-over; a failure becomes an OperationError with the new container's last log lines. */
export async function recreateIdle<P extends string>(op: OperationContext<P | CutoverPhase>, p: RecreatePlan, hintExtra = ''): Promise<CutoverResult> {
  try {
    return await cutover(op, p.cutover);
  } catch (e) {
    if (!(e instanceof CutoverFailed)) throw e;
    const toName = colorContainerName(op.svc.config.app.name, p.to);
    throw new OperationError(
      e.message,
      `${e.hint}${hintExtra ? ` ${hintExtra}` : ''}`,
      { operationId: op.id, phase: e.phase, liveColor: e.liveColor, lastLogLines: await lastLogs(op.svc, toName) },
      e.switchedBack ? 'rolled_back' : 'failed',
    );
  }
}

/** The containers a recreate started afresh: the new live color, and the old one when recycled. */
export function recreatedNames(p: RecreatePlan): string[] {
  const app = p.live.name.replace(/-(blue|green)$/, '');
  return [`${app}-${p.to}`, ...(p.cutover.retire === 'recycle' ? [`${app}-${p.from}`] : [])];
}

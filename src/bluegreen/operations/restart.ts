/**
 * restart (a config-only change): by default with zero downtime through the
 * idle color (recreated from the live one's spec, gated, switched to,
 * verified; the old color is retired per deploy.keepPrevious). `inPlace`
 * restarts the live container itself: requests fail while it restarts.
 */
import { type Color, colorContainerName } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { waitHealthy } from '../health-gate.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { noteStep, type PlanStep } from '../plan.js';
import type { CutoverPhase } from './cutover.js';
import { planRecreate, recreateIdle, recreatePlanSteps } from './recreate.js';
import { colorTarget, configGate, describeProbe, lastLogs, liveColor, msRound } from './shared.js';

export type RestartPhase = 'locked' | 'restart' | CutoverPhase;

export interface RestartRequest {
  /** Restart the live container in place (drops traffic while it restarts). */
  inPlace: boolean;
}

export interface RestartResult {
  operationId: string;
  mode: 'zero_downtime' | 'in_place';
  fromColor: Color;
  liveColor: Color;
  /** The container serving now. */
  container: string;
  healthy: true;
  durationMs: number;
  /** Phase timings of the cut-over (start, health, switch, verify, retire), zero-downtime mode only. */
  timingsMs: Record<string, number> | null;
}

export async function planRestart(svc: Services, req: RestartRequest, signal?: AbortSignal): Promise<{ dryRun: true; steps: PlanStep[]; message: string }> {
  const live = await liveColor(svc, signal);
  if (req.inPlace) {
    const name = colorContainerName(svc.config.app.name, live);
    return { dryRun: true, steps: [noteStep('restart', `docker API: restart ${name} (requests fail while it restarts)`), noteStep('health', `wait until ${name} is healthy`)], message: 'nothing was changed' };
  }
  return { dryRun: true, steps: recreatePlanSteps(svc, await planRecreate(svc, live, null, signal)), message: 'nothing was changed' };
}

export async function restart(svc: Services, req: RestartRequest, o: Omit<OperationOptions, 'kind'>): Promise<RestartResult> {
  const t0 = performance.now();
  const live = await liveColor(svc, o.signal);
  const liveName = colorContainerName(svc.config.app.name, live);
  if (req.inPlace) {
    return runOperation<RestartPhase, RestartResult>(
      svc,
      { ...o, kind: 'restart', detail: { container: liveName, mode: 'in_place' }, facts: { fromColor: live, toColor: live } },
      async (op) => {
        await op.phase('restart');
        op.progress(`restarting ${liveName} in place (requests fail until it is up)`);
        await svc.docker.restart(liveName, 10, op.signal);
        await op.phase('health');
        const h = await waitHealthy(svc.pool, colorTarget(svc, live), configGate(svc), {
          signal: op.signal,
          onAttempt: (n, p) => op.progress(`health ${n}: ${p.ok ? 'ok' : describeProbe(p)}`),
        });
        if (!h.ok) {
          throw new OperationError(`${liveName} restarted but is not healthy (${describeProbe(h.last)})`, 'Roll back to the other color (rollback) if it is present, and read logs.', {
            container: liveName,
            lastLogLines: await lastLogs(svc, liveName),
          });
        }
        return { operationId: op.id, mode: 'in_place', fromColor: live, liveColor: live, container: liveName, healthy: true, durationMs: Math.round(performance.now() - t0), timingsMs: null };
      },
    );
  }
  return runOperation<RestartPhase, RestartResult>(svc, { ...o, kind: 'restart', detail: { fromColor: live, mode: 'zero_downtime' } }, async (op) => {
    const p = await planRecreate(svc, live, op.id, op.signal);
    Object.assign(op.facts, { fromColor: p.from, toColor: p.to, image: p.live.image });
    await op.note({ toColor: p.to });
    op.progress(`restarting through ${p.to}: recreating it from ${liveName}'s spec`);
    const cut = await recreateIdle(op, p);
    const container = colorContainerName(svc.config.app.name, p.to);
    op.progress(`restarted: ${container} serves; ${liveName} ${p.cutover.retire}`);
    return { operationId: op.id, mode: 'zero_downtime', fromColor: live, liveColor: p.to, container, healthy: true, durationMs: Math.round(performance.now() - t0), timingsMs: msRound(cut.timingsMs) };
  });
}

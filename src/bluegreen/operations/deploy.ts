/**
 * deploy: source (pull or ref) → build an immutable image → the shared
 * cut-over to the idle color.
 */
import { assertRef, plannedTag, sourceAndBuild, sourceBuildPlan, type SourcePhase, type SourceRequest } from '../../build/source.js';
import { type Color, colorContainerName, LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION, otherColor } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { mkdirLock } from '../commands.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { commandStep, noteStep, type PlanStep } from '../plan.js';
import { colorSpec, cutover, CutoverFailed, cutoverPlan, type Cutover, type CutoverPhase } from './cutover.js';
import { configGate, lastLogs, liveColor, msRound } from './shared.js';
import { pruneAfterDeploy, retireMode, schedulePreviousStop } from './versions.js';
import type { PruneReport } from '../prune.js';

export { cleanVersion, imageTag } from '../../build/source.js';

export type DeployRequest = SourceRequest;

export type DeployPhase = 'locked' | SourcePhase | CutoverPhase | 'prune';

export interface DeployPlan {
  dryRun: true;
  fromColor: Color;
  toColor: Color;
  steps: PlanStep[];
  message: string;
}

export interface DeployResult {
  operationId: string;
  fromColor: Color;
  toColor: Color;
  liveColor: Color;
  image: string;
  version: string;
  commit: string;
  /** deploy.keepPrevious: running, stopped or minutes. */
  previousKept: string;
  /** With timed retention: when the previous color is stopped. */
  previousStopsAt: string | null;
  /** Old images pruned after the deploy (deploy.retainImages), or why that failed. */
  images: PruneReport | { error: string };
  timingsMs: Record<string, number>;
}

/** What a failed deploy reports beside its message. */
export interface DeployFailure {
  operationId: string;
  phase: DeployPhase;
  fromColor: Color;
  toColor: Color;
  image: string | null;
  liveColor: Color;
  lastLogLines: string[];
  timingsMs: Record<string, number>;
}

/** A new image on the idle color, through the full gate and verify: a deploy's cut-over, and a rollback to a kept version's. */
export function deployCutover(svc: Services, from: Color, image: string, base: Parameters<typeof colorSpec>[1], labels: Record<string, string>): Cutover {
  const d = svc.config.deploy;
  const to = otherColor(from);
  return {
    from,
    to,
    prepare: { recreate: colorSpec(svc, base, to, image, labels) },
    gate: configGate(svc),
    verify: { seconds: d.verifySeconds, intervalMs: d.verifyIntervalMs },
    retire: retireMode(svc),
  };
}

export async function planDeploy(svc: Services, req: DeployRequest, signal?: AbortSignal): Promise<DeployPlan> {
  assertRef(req.ref);
  const { config } = svc;
  const app = config.app;
  const from = await liveColor(svc, signal);
  const to = otherColor(from);
  // The tag names the commit built; before a pull or checkout only the current one is known.
  const { tag, head } = await plannedTag(svc, signal);
  const base = await svc.docker.containerSpec(colorContainerName(app.name, from), signal);
  const steps: PlanStep[] = [
    commandStep('lock', mkdirLock(config.state.dir), 'refused if another operation holds it'),
    ...sourceBuildPlan(svc, req, tag, head),
    ...cutoverPlan(svc, deployCutover(svc, from, tag, base, {})),
    noteStep('release', 'history line appended, lock released'),
  ];
  return { dryRun: true, fromColor: from, toColor: to, steps, message: `would deploy to ${to}; nothing was changed` };
}

export async function deploy(svc: Services, req: DeployRequest, o: Omit<OperationOptions, 'kind'>): Promise<DeployResult> {
  assertRef(req.ref);
  const { docker, config } = svc;
  const app = config.app;
  const from = await liveColor(svc, o.signal);
  const to = otherColor(from);
  const toName = colorContainerName(app.name, to);
  const fromName = colorContainerName(app.name, from);

  return runOperation<DeployPhase, DeployResult>(
    svc,
    { ...o, kind: 'deploy', detail: { fromColor: from, toColor: to, container: toName }, facts: { fromColor: from, toColor: to } },
    async (op) => {
      const { progress, signal } = op;
      const timings: Record<string, number> = {};
      let phase: DeployPhase = 'locked';
      const fail = async (message: string, hint: string, outcome: 'failed' | 'rolled_back' = 'failed'): Promise<never> => {
        const failure: DeployFailure = {
          operationId: op.id,
          phase,
          fromColor: from,
          toColor: to,
          image: op.facts.image,
          liveColor: from,
          lastLogLines: await lastLogs(svc, toName),
          timingsMs: msRound(timings),
        };
        throw new OperationError(message, hint, failure, outcome);
      };

      // 1-2. source, then an immutable image
      const built = await sourceAndBuild(svc, req, {
        phase: (name, detail) => op.phase((phase = name), detail),
        progress,
        signal,
        fail: (message, hint) => fail(message, hint),
        named: (b) => Object.assign(op.facts, b),
      });
      const { image, version, commit } = built;
      Object.assign(timings, built.timingsMs);

      // 3-7. the idle color, health, switch, verify, retire
      const base = await docker.containerSpec(fromName, signal);
      const c = deployCutover(svc, from, image, base, { [LABEL_VERSION]: version, [LABEL_COMMIT]: commit, [LABEL_DEPLOYMENT]: op.id });
      const trackPhase: typeof op = { ...op, phase: async (name, detail) => op.phase((phase = name), detail) };
      try {
        const r = await cutover(trackPhase, c);
        Object.assign(timings, r.timingsMs);
      } catch (e) {
        if (e instanceof CutoverFailed) {
          phase = e.phase;
          await fail(e.message, e.hint, e.switchedBack ? 'rolled_back' : 'failed');
        }
        throw e;
      }
      const previousStopsAt = await schedulePreviousStop(op, from);
      progress(`deployed ${version} on ${to}; ${from} kept ${previousStopsAt ? `running until ${previousStopsAt}` : c.retire} for rollback`);

      // 8. old images out (never one a container uses; see retention.ts)
      const t0 = performance.now();
      await op.phase((phase = 'prune'));
      const images = await pruneAfterDeploy(op, image);
      timings.prune = performance.now() - t0;
      return {
        operationId: op.id,
        fromColor: from,
        toColor: to,
        liveColor: to,
        image,
        version,
        commit,
        previousKept: config.deploy.keepPrevious,
        previousStopsAt,
        images,
        timingsMs: msRound(timings),
      };
    },
  );
}

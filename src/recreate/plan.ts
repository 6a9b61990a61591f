/**
 * Dry-run plans of the recreate operations: the exact argv of every remote
 * command (the same builders the operations run) and, for the Docker Engine
 * API calls, the call and its arguments in words.
 */
import { mkdirLock } from '../bluegreen/commands.js';
import { commandStep, noteStep, type PlanStep } from '../bluegreen/plan.js';
import { assertRef, plannedTag, sourceBuildPlan, type SourceRequest } from '../build/source.js';
import type { ContainerSpec } from '../docker/index.js';
import type { RecreateServices } from '../services.js';
import { gateTarget, recreateGate } from './gate.js';
import { appNames } from './names.js';
import { appSpec } from './spec.js';

export interface RecreatePlan {
  dryRun: true;
  strategy: 'recreate';
  steps: PlanStep[];
  message: string;
}

const describeSpec = (s: ContainerSpec) =>
  `image ${s.image}, network ${s.network}${s.publish ? `, published ${s.publish.hostIp}:${s.publish.hostPort}:${s.publish.containerPort}` : ', no published port'}` +
  `${s.binds.length ? `, volumes ${s.binds.map((b) => `${b.host}:${b.container}${b.readOnly ? ':ro' : ''}`).join(', ')}` : ''}, restart ${s.restartPolicy}, labels ${Object.keys(s.labels).sort().join(' ')}`;

/** The steps of the replace sequence (replace.ts) for a spec. */
export function replacePlan(svc: RecreateServices, spec: ContainerSpec, outgoing: 'previous' | 'remove', live: { image: string } | undefined): PlanStep[] {
  const n = appNames(svc);
  const g = recreateGate(svc);
  const aside = outgoing === 'previous' ? n.previous : n.outgoing;
  return [
    noteStep('replace', `${outgoing === 'previous' ? `docker API: remove ${n.previous} if it exists (force); ` : ''}${live ? `docker API: rename ${n.live} (${live.image}) to ${aside} (it keeps serving)` : `no ${n.live} runs now: nothing to rename`}`),
    noteStep('create', `docker API: create ${n.live}: ${describeSpec(spec)} (not started)`),
    noteStep('swap', `${live ? `docker API: stop ${aside} (10 s), then ` : ''}docker API: start ${n.live}. THE APP DOES NOT ANSWER from the stop until the new container is healthy`),
    noteStep('health', `${gateTarget(svc)} up to ${g.attempts}×${g.intervalMs} ms (${g.successThreshold} success needed)`),
    noteStep('restore', `only if the gate fails: remove the new ${n.live}${live ? `, rename ${aside} back to ${n.live} and start it` : ''}`),
    ...(outgoing === 'remove' && live ? [noteStep('cleanup', `docker API: remove ${aside} (the replaced container; ${n.previous} is left alone)`)] : []),
  ];
}

export async function planDeploy(svc: RecreateServices, req: SourceRequest, signal?: AbortSignal): Promise<RecreatePlan> {
  assertRef(req.ref);
  const n = appNames(svc);
  const { tag, head } = await plannedTag(svc, signal);
  const live = await svc.docker.inspect(n.live, signal);
  const spec = appSpec(svc, { image: tag, env: {}, labels: { 'loop-ops.version': '<version>', 'loop-ops.commit': head, 'loop-ops.deployment': '<operation id>', 'loop-ops.operation': '<operation id>' } });
  const steps: PlanStep[] = [
    commandStep('lock', mkdirLock(svc.config.state.dir), 'refused if another operation holds it'),
    ...sourceBuildPlan(svc, req, tag, head),
    ...replacePlan(svc, spec, 'previous', live),
    noteStep('prune', `old images of ${n.app} removed beyond deploy.retainImages=${svc.config.deploy.retainImages} (never one a container uses)`),
    noteStep('release', 'history line appended, lock released'),
  ];
  return { dryRun: true, strategy: 'recreate', steps, message: `would replace ${n.live}${live ? ` (${live.image})` : ''} with a new build; the app does not answer during the swap; nothing was changed` };
}

export async function planRestart(svc: RecreateServices, req: { inPlace: boolean }, signal?: AbortSignal): Promise<RecreatePlan> {
  const n = appNames(svc);
  const live = await svc.docker.containerSpec(n.live, signal);
  const lock = commandStep('lock', mkdirLock(svc.config.state.dir), 'refused if another operation holds it');
  if (!live) return { dryRun: true, strategy: 'recreate', steps: [lock], message: `${n.live} does not exist: restart would be refused; nothing was changed` };
  const g = recreateGate(svc);
  const steps = req.inPlace
    ? [lock, noteStep('restart', `docker API: restart ${n.live} (10 s): the app does not answer until it is up`), noteStep('health', `${gateTarget(svc)} up to ${g.attempts}×${g.intervalMs} ms`)]
    : [lock, ...replacePlan(svc, appSpec(svc, { image: live.image, env: live.env, baseBinds: live.binds, labels: { ...live.labels, 'loop-ops.operation': '<operation id>' } }), 'remove', live)];
  return { dryRun: true, strategy: 'recreate', steps: [...steps, noteStep('release', 'history line appended, lock released')], message: 'nothing was changed' };
}

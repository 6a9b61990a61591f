/**
 * deploy: source (pull or ref) → build an immutable image → the shared
 * cut-over to the idle color.
 */
import { type Color, colorContainerName, LABEL_APP, LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION, otherColor } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { dockerBuild, gitCheckout, gitDescribe, gitFetch, gitHead, gitPull, GIT_REF_RE, mkdirLock, readVersionFile } from '../commands.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { commandStep, noteStep, type PlanStep } from '../plan.js';
import { colorSpec, cutover, CutoverFailed, cutoverPlan, type Cutover, type CutoverPhase } from './cutover.js';
import { configGate, lastLogs, liveColor, msRound, runCommand } from './shared.js';
import { pruneAfterDeploy, retireMode, schedulePreviousStop } from './versions.js';
import type { PruneReport } from '../prune.js';

export interface DeployRequest {
  /** `git pull --ff-only` the checkout first. */
  pull: boolean;
  /** Or check out this ref (branch, tag, commit) after fetching. */
  ref?: string;
}

export type DeployPhase = 'locked' | 'fetch' | 'pull' | 'build' | CutoverPhase | 'prune';

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

/** Immutable image tag: time + commit (never reused). */
export function imageTag(app: string, at: Date, commit: string): string {
  const ts = at.toISOString().replace(/[-:T]/g, '').replace(/\..*/, '');
  return `${app}:${ts}-${commit.slice(0, 7)}`;
}

/** Label-safe version text from a VERSION file or git describe. */
export function cleanVersion(raw: string): string {
  const v = raw.trim().split('\n')[0]!.replace(/[^A-Za-z0-9._+-]/g, '').slice(0, 64);
  return v || 'unknown';
}

function assertRef(ref: string | undefined): void {
  if (ref !== undefined && !GIT_REF_RE.test(ref)) {
    throw new OperationError(`invalid git ref ${JSON.stringify(ref.slice(0, 40))}`, 'Give a branch, tag or commit: letters, digits, . _ / - (not starting with -).');
  }
}

function sourceCommands(svc: Services, req: DeployRequest) {
  const dir = svc.config.app.checkoutDir;
  if (req.ref) return [{ step: 'fetch' as const, cmd: gitFetch(dir) }, { step: 'fetch' as const, cmd: gitCheckout(dir, req.ref) }];
  if (req.pull) return [{ step: 'pull' as const, cmd: gitPull(dir) }];
  return [];
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
  const head = (await runCommand(svc, gitHead(app.checkoutDir), { signal, check: false })).stdout.trim() || '0000000';
  const tag = imageTag(app.name, new Date(), head);
  const base = await svc.docker.containerSpec(colorContainerName(app.name, from), signal);
  const steps: PlanStep[] = [
    commandStep('lock', mkdirLock(config.state.dir), 'refused if another operation holds it'),
    ...sourceCommands(svc, req).map((s) => commandStep(s.step, s.cmd)),
    commandStep('version', gitHead(app.checkoutDir)),
    commandStep('version', readVersionFile(app.checkoutDir), `else ${gitDescribe(app.checkoutDir).argv.join(' ')}`),
    commandStep(
      'build',
      dockerBuild(config.docker.binary, config.sudo.mode !== 'none', { contextDir: app.checkoutDir, tag, labels: { [LABEL_APP]: app.name, [LABEL_VERSION]: '<version>', [LABEL_COMMIT]: head } }, config.deploy.buildTimeoutMs),
      req.pull || req.ref ? 'tag and commit label: the commit after the checkout; time: when it runs' : 'tag time: when it runs',
    ),
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

      // 1. source
      let t0 = performance.now();
      for (const s of sourceCommands(svc, req)) {
        if (phase !== s.step) await op.phase((phase = s.step));
        progress(s.step === 'pull' ? `git pull --ff-only in ${app.checkoutDir}` : `${s.cmd.argv.slice(3).join(' ')}`);
        const r = await runCommand(svc, s.cmd, { signal, check: s.cmd.argv.includes('checkout') || s.step === 'pull' ? false : true });
        if (r.code !== 0) {
          await fail(
            s.step === 'pull' ? `git pull --ff-only failed: ${r.stderr.trim().slice(0, 300)}` : `git checkout ${req.ref} failed: ${r.stderr.trim().slice(0, 300)}`,
            s.step === 'pull' ? 'The checkout on the NAS has diverged or has local changes; fix it there, or deploy a ref.' : 'Check the ref exists on origin.',
          );
        }
      }
      const commit = (await runCommand(svc, gitHead(app.checkoutDir), { signal })).stdout.trim();
      const vfile = await runCommand(svc, readVersionFile(app.checkoutDir), { signal, check: false });
      const version = cleanVersion(vfile.code === 0 ? vfile.stdout : (await runCommand(svc, gitDescribe(app.checkoutDir), { signal })).stdout);
      timings.source = performance.now() - t0;

      // 2. build an immutable image
      t0 = performance.now();
      const image = imageTag(app.name, new Date(), commit);
      Object.assign(op.facts, { image, commit, version });
      await op.phase((phase = 'build'), { image, commit, version });
      progress(`building ${image} (version ${version}, commit ${commit.slice(0, 7)})`);
      let lastLine = 0;
      try {
        await docker.build(
          { contextDir: app.checkoutDir, tag: image, labels: { [LABEL_APP]: app.name, [LABEL_VERSION]: version, [LABEL_COMMIT]: commit } },
          (line) => {
            // Build output is chatty: pass on at most one line every 500 ms.
            if (performance.now() - lastLine > 500 && line.trim()) {
              lastLine = performance.now();
              progress(`build: ${line.trim().slice(0, 200)}`);
            }
          },
          signal,
          config.deploy.buildTimeoutMs,
        );
      } catch (e) {
        if (signal.aborted) throw e;
        await fail((e as Error).message.slice(0, 2000), 'Fix the build on the NAS checkout; nothing was changed and traffic is untouched.');
      }
      timings.build = performance.now() - t0;

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
      t0 = performance.now();
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

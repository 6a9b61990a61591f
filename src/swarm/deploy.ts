/**
 * deploy on a Swarm target: source (pull or ref) → an immutable image built
 * on the manager from its checkout → one service update with the safe
 * policy (start-first, health-gated, monitor window, automatic rollback),
 * followed to its end.
 *
 * The manager does what the single-host engine does by hand: a new task
 * starts beside the old ones, only a healthy task is added to the service's
 * DNS (and so reached by the front), an old task stops only after that, and
 * a new task that fails within the monitor window makes the manager put the
 * previous spec back. Lock, journal and history are the same as on one host
 * (runOperation, in the app's state dir on the manager).
 */
import { LABEL_APP, LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION } from '../domain/index.js';
import { dockerBuild, gitCheckout, gitDescribe, gitFetch, gitHead, gitPull, GIT_REF_RE, mkdirLock, readVersionFile, showCommand, type RemoteCommand } from '../bluegreen/commands.js';
import { OperationError, runOperation, type OperationOptions } from '../bluegreen/operation.js';
import { cleanVersion, imageTag } from '../bluegreen/operations/deploy.js';
import { runCommand } from '../bluegreen/operations/shared.js';
import { specWithImage, specWithSafeUpdates } from '../docker/swarm-requests.js';
import type { SwarmContext } from './app.js';
import { failedTaskReport, updateService, type FailedTaskReport } from './update.js';

export interface SwarmDeployRequest {
  /** `git pull --ff-only` the checkout first. */
  pull: boolean;
  /** Or check out this ref (branch, tag, commit) after fetching. */
  ref?: string;
}

export type SwarmDeployPhase = 'locked' | 'fetch' | 'pull' | 'build' | 'update';

export interface SwarmDeployResult {
  operationId: string;
  service: string;
  fromImage: string;
  image: string;
  version: string;
  commit: string;
  replicas: { desired: number | null; running: number };
  /** The manager's final word on the update. */
  update: { state: string; message: string | null };
  timingsMs: Record<string, number>;
}

export interface SwarmDeployFailure {
  operationId: string;
  phase: SwarmDeployPhase;
  service: string;
  fromImage: string | null;
  image: string | null;
  /** What serves now: the previous spec's image after an automatic rollback. */
  liveImage: string | null;
  update: { state: string; message: string | null } | null;
  failedTask: FailedTaskReport | null;
  timingsMs: Record<string, number>;
}

export interface SwarmPlanStep {
  step: string;
  command?: string;
  note?: string;
}

function assertRef(ref: string | undefined): void {
  if (ref !== undefined && !GIT_REF_RE.test(ref)) {
    throw new OperationError(`invalid git ref ${JSON.stringify(ref.slice(0, 40))}`, 'Give a branch, tag or commit: letters, digits, . _ / - (not starting with -).');
  }
}

function sourceCommands(dir: string, req: SwarmDeployRequest): Array<{ step: 'fetch' | 'pull'; cmd: RemoteCommand }> {
  if (req.ref) return [{ step: 'fetch', cmd: gitFetch(dir) }, { step: 'fetch', cmd: gitCheckout(dir, req.ref) }];
  if (req.pull) return [{ step: 'pull', cmd: gitPull(dir) }];
  return [];
}

const sudoOn = (ctx: SwarmContext) => ctx.svc.config.sudo.mode !== 'none';

/** What a deploy would run, without running it (dry run). */
export function planSwarmDeploy(ctx: SwarmContext, req: SwarmDeployRequest): SwarmPlanStep[] {
  assertRef(req.ref);
  const { app, svc } = ctx;
  const tag = imageTag(app.name, new Date(), '<commit>');
  return [
    { step: 'lock', command: showCommand(mkdirLock(app.stateDir)), note: 'refused if another operation holds it' },
    ...sourceCommands(app.checkoutDir, req).map((s) => ({ step: s.step, command: showCommand(s.cmd) })),
    { step: 'version', command: showCommand(gitHead(app.checkoutDir)) },
    { step: 'version', command: showCommand(readVersionFile(app.checkoutDir)), note: `else ${showCommand(gitDescribe(app.checkoutDir))}` },
    {
      step: 'build',
      command: showCommand(dockerBuild(svc.config.docker.binary, sudoOn(ctx), { contextDir: app.checkoutDir, tag, labels: { [LABEL_APP]: app.name } }, svc.config.deploy.buildTimeoutMs)),
    },
    {
      step: 'update',
      note: `POST /services/${app.service}/update: image ${tag}, start-first, parallelism 1, monitor ${app.updateMonitorSeconds}s, failure_action rollback; followed until the manager reports completed or rollback_completed`,
    },
    { step: 'release', note: 'history line appended, lock released' },
  ];
}

export async function swarmDeploy(ctx: SwarmContext, req: SwarmDeployRequest, o: Omit<OperationOptions, 'kind'>): Promise<SwarmDeployResult> {
  assertRef(req.ref);
  const { svc, app } = ctx;
  const { docker, config } = svc;
  return runOperation<SwarmDeployPhase, SwarmDeployResult>(svc, { ...o, kind: 'deploy', detail: { service: app.service } }, async (op) => {
    const { progress, signal } = op;
    const timings: Record<string, number> = {};
    let phase: SwarmDeployPhase = 'locked';
    let fromImage: string | null = null;
    const fail = (message: string, hint: string, extra: Partial<SwarmDeployFailure> = {}, outcome: 'failed' | 'rolled_back' = 'failed'): never => {
      const failure: SwarmDeployFailure = {
        operationId: op.id,
        phase,
        service: app.service,
        fromImage,
        image: op.facts.image,
        liveImage: fromImage,
        update: null,
        failedTask: null,
        timingsMs: timings,
        ...extra,
      };
      throw new OperationError(message, hint, failure, outcome);
    };

    // 1. source
    let t0 = performance.now();
    for (const s of sourceCommands(app.checkoutDir, req)) {
      if (phase !== s.step) await op.phase((phase = s.step));
      progress(showCommand(s.cmd));
      const r = await runCommand(svc, s.cmd, { signal, check: false });
      if (r.code !== 0) {
        fail(`${s.cmd.argv.slice(3).join(' ')} failed: ${r.stderr.trim().slice(0, 300)}`, s.step === 'pull' ? 'The checkout on the manager has diverged or has local changes; fix it there, or deploy a ref.' : 'Check the ref exists on origin.');
      }
    }
    const commit = (await runCommand(svc, gitHead(app.checkoutDir), { signal })).stdout.trim();
    const vfile = await runCommand(svc, readVersionFile(app.checkoutDir), { signal, check: false });
    const version = cleanVersion(vfile.code === 0 ? vfile.stdout : (await runCommand(svc, gitDescribe(app.checkoutDir), { signal })).stdout);
    timings.source = Math.round(performance.now() - t0);

    // 2. an immutable image, built on the manager (where the checkout is; a multi-node swarm needs it in a registry)
    t0 = performance.now();
    const image = imageTag(app.name, new Date(), commit);
    Object.assign(op.facts, { image, commit, version });
    await op.phase((phase = 'build'), { image, commit, version });
    progress(`building ${image} (version ${version}, commit ${commit.slice(0, 7)}) on the manager`);
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
      fail((e as Error).message.slice(0, 2000), 'Fix the build in the checkout on the manager; the service was not touched.');
    }
    timings.build = Math.round(performance.now() - t0);

    // 3. the rolling update, by the manager
    await op.phase((phase = 'update'), { image });
    progress(`updating service ${app.service} to ${image} (start-first, monitor ${app.updateMonitorSeconds}s, rollback on failure)`);
    const labels = { [LABEL_VERSION]: version, [LABEL_COMMIT]: commit, [LABEL_DEPLOYMENT]: op.id };
    const r = await updateService(ctx, op, {
      change: { spec: (cur) => specWithSafeUpdates(specWithImage(cur.spec, image, labels), app.updateMonitorSeconds) },
      image: () => image,
    });
    fromImage = r.before.image;
    await op.note({ fromImage });
    timings.update = r.timingsMs.update;
    const update = r.status ? { state: r.status.state, message: r.status.message } : { state: r.end, message: null };
    if (r.end !== 'completed') {
      const failedTask = r.end === 'unknown' ? null : await failedTaskReport(ctx, r.tasks, image, signal);
      const liveImage = r.end === 'rolled_back' ? r.service.image : null;
      if (r.end === 'rolled_back') {
        fail(
          `the update to ${version} failed and the manager rolled it back to ${r.service.image}${update.message ? ` (${update.message})` : ''}`,
          'The new version never became healthy (see failedTask: its health output and last log lines); the previous version serves. Fix it and deploy again.',
          { update, failedTask, liveImage },
          'rolled_back',
        );
      }
      fail(
        r.end === 'paused' ? `the update to ${version} paused: ${update.message ?? update.state}` : `the update to ${version} did not finish within ${app.updateTimeoutSeconds}s (the manager carries on)`,
        'Tasks of both versions may be running: status shows each task; rollback returns to the previous spec.',
        { update, failedTask, liveImage },
      );
    }
    const running = r.tasks.filter((t) => t.desiredState === 'running' && t.state === 'running').length;
    progress(`deployed ${version} on ${app.service}: ${running}/${r.service.replicas ?? '?'} tasks running ${image}`);
    return {
      operationId: op.id,
      service: app.service,
      fromImage,
      image,
      version,
      commit,
      replicas: { desired: r.service.replicas, running },
      update,
      timingsMs: timings,
    };
  });
}

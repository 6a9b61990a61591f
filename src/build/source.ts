/**
 * The first half of every deploy, whatever the strategy: bring the app's
 * checkout on the NAS to the wanted commit (`git pull --ff-only`, or fetch +
 * checkout of a ref), read its commit and version, and build an immutable
 * image `<app>:<UTC time>-<short commit>` with the loop-ops labels. The
 * blue-green and the recreate deploys both run this; only what they do with
 * the image differs.
 *
 * The commands are the builders of commands.ts, so a dry run shows the very
 * argv that runs.
 */
import { dockerBuild, gitCheckout, gitDescribe, gitFetch, gitHead, gitPull, GIT_REF_RE, readVersionFile, type RemoteCommand } from '../bluegreen/commands.js';
import { OperationError } from '../bluegreen/operation.js';
import { commandStep, type PlanStep } from '../bluegreen/plan.js';
import type { ProgressFn } from '../bluegreen/types.js';
import type { DockerEngine } from '../docker/index.js';
import { LABEL_APP, LABEL_COMMIT, LABEL_VERSION } from '../domain/index.js';
import type { ExecResult, SshPool } from '../ssh/pool.js';

export interface SourceRequest {
  /** `git pull --ff-only` the checkout first. */
  pull: boolean;
  /** Or check out this ref (branch, tag, commit) after fetching. */
  ref?: string;
}

export type SourcePhase = 'fetch' | 'pull' | 'build';

/** What building needs to know of an app, whatever its strategy. */
export interface BuildServices {
  pool: SshPool;
  docker: DockerEngine;
  config: {
    app: { name: string; checkoutDir: string };
    docker: { binary: string };
    sudo: { mode: string };
    deploy: { buildTimeoutMs: number };
  };
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

/** Refuses a ref a caller typed that git could read as an option or a path trick. */
export function assertRef(ref: string | undefined): void {
  if (ref !== undefined && !GIT_REF_RE.test(ref)) {
    throw new OperationError(`invalid git ref ${JSON.stringify(ref.slice(0, 40))}`, 'Give a branch, tag or commit: letters, digits, . _ / - (not starting with -).');
  }
}

/** The git commands that bring the checkout to the wanted commit (none: build what is checked out). */
export function sourceCommands(checkoutDir: string, req: SourceRequest): Array<{ step: 'fetch' | 'pull'; cmd: RemoteCommand }> {
  if (req.ref) return [{ step: 'fetch', cmd: gitFetch(checkoutDir) }, { step: 'fetch', cmd: gitCheckout(checkoutDir, req.ref) }];
  if (req.pull) return [{ step: 'pull', cmd: gitPull(checkoutDir) }];
  return [];
}

/** The labels every image we build carries: how retention and status know it as ours. */
export const buildLabels = (app: string, version: string, commit: string) => ({ [LABEL_APP]: app, [LABEL_VERSION]: version, [LABEL_COMMIT]: commit });

/** Runs one built command; `check` turns a non-zero exit into an error. */
export async function runCommand(svc: { pool: SshPool }, c: RemoteCommand, opts: { signal?: AbortSignal; check?: boolean } = {}): Promise<ExecResult> {
  const o = { sudo: c.sudo, timeoutMs: c.timeoutMs, signal: opts.signal };
  return opts.check === false ? svc.pool.exec(c.argv, o) : svc.pool.run(c.argv, o);
}

/** Dry-run steps of the source and build half; `head` is the commit checked out now (the tag's, unless a pull or ref moves it). */
export function sourceBuildPlan(svc: BuildServices, req: SourceRequest, tag: string, head: string): PlanStep[] {
  const { app, docker, sudo, deploy } = svc.config;
  return [
    ...sourceCommands(app.checkoutDir, req).map((s) => commandStep(s.step, s.cmd)),
    commandStep('version', gitHead(app.checkoutDir)),
    commandStep('version', readVersionFile(app.checkoutDir), `else ${gitDescribe(app.checkoutDir).argv.join(' ')}`),
    commandStep(
      'build',
      dockerBuild(docker.binary, sudo.mode !== 'none', { contextDir: app.checkoutDir, tag, labels: buildLabels(app.name, '<version>', head) }, deploy.buildTimeoutMs),
      req.pull || req.ref ? 'tag and commit label: the commit after the checkout; time: when it runs' : 'tag time: when it runs',
    ),
  ];
}

/** The tag a dry run shows: the commit checked out now (a pull or ref may move it). */
export async function plannedTag(svc: BuildServices, signal?: AbortSignal): Promise<{ tag: string; head: string }> {
  const head = (await runCommand(svc, gitHead(svc.config.app.checkoutDir), { signal, check: false })).stdout.trim() || '0000000';
  return { tag: imageTag(svc.config.app.name, new Date(), head), head };
}

export interface Built {
  image: string;
  commit: string;
  version: string;
  timingsMs: { source: number; build: number };
}

/** How the source-and-build half reports: phases (journaled by the caller), progress, failures. */
export interface SourceBuildSteps {
  phase(name: SourcePhase, detail?: Record<string, string>): Promise<void>;
  progress: ProgressFn;
  signal: AbortSignal;
  /** A failure that changed nothing the app serves: the caller records it (and may add its own facts). */
  fail(message: string, hint: string): Promise<never>;
  /** Told the image's name, commit and version once known (before the build: the history names what was attempted). */
  named?(b: { image: string; commit: string; version: string }): void;
}

/** Source, version, build: returns the image built (the caller decides where it runs). */
export async function sourceAndBuild(svc: BuildServices, req: SourceRequest, s: SourceBuildSteps): Promise<Built> {
  assertRef(req.ref);
  const { app, deploy } = svc.config;
  const { progress, signal } = s;
  // 1. source
  let t0 = performance.now();
  let entered: SourcePhase | undefined;
  for (const { step, cmd } of sourceCommands(app.checkoutDir, req)) {
    if (entered !== step) await s.phase((entered = step));
    progress(step === 'pull' ? `git pull --ff-only in ${app.checkoutDir}` : cmd.argv.slice(3).join(' '));
    // A pull or checkout that git refuses is a user-facing failure; a fetch that cannot run is an error.
    const isUserStep = cmd.argv.includes('checkout') || step === 'pull';
    const r = await runCommand(svc, cmd, { signal, check: !isUserStep });
    if (r.code !== 0) {
      await s.fail(
        step === 'pull' ? `git pull --ff-only failed: ${r.stderr.trim().slice(0, 300)}` : `git checkout ${req.ref} failed: ${r.stderr.trim().slice(0, 300)}`,
        step === 'pull' ? 'The checkout on the NAS has diverged or has local changes; fix it there, or deploy a ref.' : 'Check the ref exists on origin.',
      );
    }
  }
  const commit = (await runCommand(svc, gitHead(app.checkoutDir), { signal })).stdout.trim();
  const vfile = await runCommand(svc, readVersionFile(app.checkoutDir), { signal, check: false });
  const version = cleanVersion(vfile.code === 0 ? vfile.stdout : (await runCommand(svc, gitDescribe(app.checkoutDir), { signal })).stdout);
  const source = performance.now() - t0;

  // 2. an immutable image
  t0 = performance.now();
  const image = imageTag(app.name, new Date(), commit);
  s.named?.({ image, commit, version });
  await s.phase('build', { image, commit, version });
  progress(`building ${image} (version ${version}, commit ${commit.slice(0, 7)})`);
  let lastLine = 0;
  try {
    await svc.docker.build(
      { contextDir: app.checkoutDir, tag: image, labels: buildLabels(app.name, version, commit) },
      (line) => {
        // Build output is chatty: pass on at most one line every 500 ms.
        if (performance.now() - lastLine > 500 && line.trim()) {
          lastLine = performance.now();
          progress(`build: ${line.trim().slice(0, 200)}`);
        }
      },
      signal,
      deploy.buildTimeoutMs,
    );
  } catch (e) {
    if (signal.aborted) throw e;
    await s.fail((e as Error).message.slice(0, 2000), 'Fix the build on the NAS checkout; nothing was changed and traffic is untouched.');
  }
  return { image, commit, version, timingsMs: { source, build: performance.now() - t0 } };
}

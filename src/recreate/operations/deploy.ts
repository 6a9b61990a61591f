/**
 * deploy (recreate): source (pull or ref) → an immutable image → the
 * replace sequence (replace.ts): the running `<app>` becomes
 * `<app>-previous` (stopped), a new `<app>` runs the image behind the
 * health gate, and a failed gate puts the old one back. There is a gap in
 * service during the swap; the result says how long.
 */
import { sourceAndBuild, type SourceRequest } from '../../build/source.js';
import { OperationError, runOperation, type OperationOptions } from '../../bluegreen/operation.js';
import { pruneAppImages, type PruneReport } from '../../bluegreen/prune.js';
import { readHistory } from '../../bluegreen/journal.js';
import { LABEL_COMMIT, LABEL_DEPLOYMENT, LABEL_VERSION } from '../../domain/index.js';
import type { RecreateServices } from '../../services.js';
import { recreateGate } from '../gate.js';
import { appNames, type RecreatePhase } from '../names.js';
import { replace, type RecreateOp, type ReplaceResult } from '../replace.js';
import { appSpec, LABEL_OPERATION, runtimeEnv } from '../spec.js';

export type RecreateDeployRequest = SourceRequest;

export interface RecreateDeployResult {
  operationId: string;
  strategy: 'recreate';
  container: string;
  image: string;
  version: string;
  commit: string;
  /** The image that served before, now in `<app>-previous` (stopped), or null on a first deploy. */
  previousImage: string | null;
  /** From stopping the old container to the new one's first good probe: how long the app did not answer (at most). */
  swapGapMs: number | null;
  images: PruneReport | { error: string };
  timingsMs: Record<string, number>;
}

/** The new `<app>` for an image: the config's spec, the live container's own environment, our labels. */
export async function specFor(op: RecreateOp, image: string, labels: Record<string, string>) {
  const { svc, signal } = op;
  const n = appNames(svc);
  const base = await svc.docker.containerSpec(n.live, signal);
  const env = base ? runtimeEnv(base.env, await svc.docker.imageEnv(base.image, signal)) : {};
  return appSpec(svc, { image, env, baseBinds: base?.binds, labels: { ...labels, [LABEL_DEPLOYMENT]: op.id, [LABEL_OPERATION]: op.id } });
}

/** Old images out after a good deploy (never one a container uses: the previous one is kept by its container). */
export async function pruneAfter(op: RecreateOp, liveImage: string): Promise<PruneReport | { error: string }> {
  const { svc } = op;
  try {
    const history = await readHistory(svc.pool, svc.config.state.dir, 100, op.signal);
    const r = await pruneAppImages({ docker: svc.docker, app: svc.config.app.name, retain: svc.config.deploy.retainImages, liveImage, history }, op.signal);
    if (r.removed.length) op.progress(`pruned ${r.removed.length} old image(s): ${r.removed.join(', ')}; ${r.kept.length} kept`);
    return r;
  } catch (e) {
    op.progress(`image pruning failed (the deploy stands): ${(e as Error).message}`);
    return { error: (e as Error).message.slice(0, 300) };
  }
}

export function deployResult(op: RecreateOp, r: ReplaceResult, b: { image: string; version: string; commit: string }, previousImage: string | null, images: RecreateDeployResult['images'], timings: Record<string, number>): RecreateDeployResult {
  return {
    operationId: op.id,
    strategy: 'recreate',
    container: appNames(op.svc).live,
    image: b.image,
    version: b.version,
    commit: b.commit,
    previousImage,
    swapGapMs: r.swapGapMs,
    images,
    timingsMs: Object.fromEntries(Object.entries({ ...timings, ...r.timingsMs }).map(([k, v]) => [k, Math.round(v)])),
  };
}

export async function deploy(svc: RecreateServices, req: RecreateDeployRequest, o: Omit<OperationOptions, 'kind'>): Promise<RecreateDeployResult> {
  const n = appNames(svc);
  return runOperation<RecreatePhase, RecreateDeployResult, RecreateServices>(svc, { ...o, kind: 'deploy', detail: { strategy: 'recreate', container: n.live } }, async (op) => {
    let phase: RecreatePhase = 'locked';
    const failBeforeSwap = async (message: string, hint: string): Promise<never> => {
      throw new OperationError(message, hint.replace('traffic is untouched', `${n.live} is untouched`), { operationId: op.id, phase, image: op.facts.image, serving: n.live, lastLogLines: [] });
    };
    const built = await sourceAndBuild(svc, req, {
      phase: (name, detail) => op.phase((phase = name), detail),
      progress: op.progress,
      signal: op.signal,
      fail: failBeforeSwap,
      named: (b) => Object.assign(op.facts, b),
    });
    const old = await svc.docker.inspect(n.live, op.signal);
    const spec = await specFor(op, built.image, { [LABEL_VERSION]: built.version, [LABEL_COMMIT]: built.commit });
    const r = await replace(op, { spec, outgoing: 'previous', gate: recreateGate(svc) });
    op.progress(`deployed ${built.version} as ${n.live}${r.swapGapMs !== null ? `; the app did not answer for at most ${r.swapGapMs} ms during the swap` : ''}`);
    op.message = r.swapGapMs !== null ? `swap gap ≤ ${r.swapGapMs} ms` : null;
    const t0 = performance.now();
    await op.phase('prune');
    const images = await pruneAfter(op, built.image);
    return deployResult(op, r, built, old?.image ?? null, images, { ...built.timingsMs, prune: performance.now() - t0 });
  });
}

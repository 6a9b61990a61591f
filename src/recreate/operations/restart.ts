/**
 * restart (recreate): by default `<app>` is recreated from its own image
 * and environment with the configured spec (a changed volume or port in the
 * config applies), behind the health gate; the old container waits as
 * `<app>-outgoing` and is removed once the new one is healthy, or put back
 * if it is not. `<app>-previous` (the version before the last deploy) is
 * left alone. `inPlace` is `docker restart` of the container itself, then
 * the gate. Either way the app does not answer while it restarts.
 */
import { OperationError, runOperation, type OperationOptions } from '../../bluegreen/operation.js';
import type { RecreateServices } from '../../services.js';
import { recreateGate, waitAppHealthy } from '../gate.js';
import { lastLogs } from '../logs.js';
import { appNames, type RecreatePhase } from '../names.js';
import { replace } from '../replace.js';
import { appSpec, LABEL_OPERATION } from '../spec.js';

export interface RecreateRestartRequest {
  inPlace: boolean;
}

export interface RecreateRestartResult {
  operationId: string;
  strategy: 'recreate';
  mode: 'recreate' | 'in_place';
  container: string;
  image: string;
  healthy: true;
  /** How long the app did not answer (at most), from stopping it to the first good probe. */
  swapGapMs: number | null;
  durationMs: number;
}

export async function restart(svc: RecreateServices, req: RecreateRestartRequest, o: Omit<OperationOptions, 'kind'>): Promise<RecreateRestartResult> {
  const t0 = performance.now();
  const n = appNames(svc);
  const live = await svc.docker.containerSpec(n.live, o.signal);
  if (!live) throw new OperationError(`${n.live} does not exist`, 'Deploy it first (or run recover if an operation was cut off).');
  const info = (await svc.docker.inspect(n.live, o.signal))!;
  const facts = { image: live.image, version: live.labels['loop-ops.version'] ?? null, commit: live.labels['loop-ops.commit'] ?? null };
  if (req.inPlace) {
    return runOperation<RecreatePhase, RecreateRestartResult, RecreateServices>(
      svc,
      { ...o, kind: 'restart', detail: { strategy: 'recreate', container: n.live, mode: 'in_place', fromId: info.id, toId: info.id, keepFrom: 'previous' }, facts },
      async (op) => {
        await op.phase('restart');
        op.progress(`restarting ${n.live} in place (the app does not answer until it is up)`);
        const s0 = performance.now();
        await svc.docker.restart(n.live, 10, op.signal);
        const restartMs = performance.now() - s0;
        await op.phase('health');
        const h = await waitAppHealthy(svc, n.live, recreateGate(svc), { signal: op.signal, onAttempt: (i, what) => op.progress(`health ${i}: ${what}`) });
        if (!h.ok) {
          throw new OperationError(`${n.live} restarted but is not healthy (${h.last})`, `Read its logs; roll back to ${n.previous} (rollback) if the last deploy is at fault.`, {
            operationId: op.id,
            phase: 'health',
            lastLogLines: await lastLogs(svc, n.live),
          });
        }
        const swapGapMs = h.firstOkMs !== undefined ? Math.round(restartMs + h.firstOkMs) : null;
        return { operationId: op.id, strategy: 'recreate', mode: 'in_place', container: n.live, image: live.image, healthy: true, swapGapMs, durationMs: Math.round(performance.now() - t0) };
      },
    );
  }
  return runOperation<RecreatePhase, RecreateRestartResult, RecreateServices>(svc, { ...o, kind: 'restart', detail: { strategy: 'recreate', container: n.live, mode: 'recreate' }, facts }, async (op) => {
    // Same image, same environment (all of it: the image does not change), the configured spec.
    const spec = appSpec(svc, { image: live.image, env: live.env, baseBinds: live.binds, labels: { ...live.labels, [LABEL_OPERATION]: op.id } });
    const r = await replace(op, { spec, outgoing: 'remove', gate: recreateGate(svc) });
    op.message = r.swapGapMs !== null ? `swap gap ≤ ${r.swapGapMs} ms` : null;
    return { operationId: op.id, strategy: 'recreate', mode: 'recreate', container: n.live, image: live.image, healthy: true, swapGapMs: r.swapGapMs, durationMs: Math.round(performance.now() - t0) };
  });
}

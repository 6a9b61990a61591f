/** rollback: the shared cut-over back to the other color's existing container. */
import { type Color, colorContainerName, LABEL_COMMIT, LABEL_VERSION, otherColor } from '../../domain/index.js';
import type { Services } from '../../services.js';
import { armNginx } from '../nginx.js';
import { OperationError, runOperation, type OperationOptions } from '../operation.js';
import { cutover, CutoverFailed, type CutoverPhase } from './cutover.js';
import { configGate, lastLogs, liveColor, quickGate } from './shared.js';

export type RollbackPhase = 'locked' | CutoverPhase;

export interface RollbackResult {
  operationId: string;
  fromColor: Color;
  toColor: Color;
  liveColor: Color;
  image: string;
  version: string | null;
  startedContainer: boolean;
  durationMs: number;
}

export async function rollback(svc: Services, o: Omit<OperationOptions, 'kind'>): Promise<RollbackResult> {
  const { docker, config } = svc;
  const t0 = performance.now();
  // nginx's test and reload are prepared at once (sudo's password check, the bulk of a root
  // command, then overlaps the reads, the lock and the quick gate); nothing runs until the switch.
  const armed = armNginx(svc.pool, config);
  try {
    // Both colors' containers are read with the upstream, together; the live color picks which is the target.
    const [from, blue, green] = await Promise.all([
      liveColor(svc, o.signal),
      docker.inspect(colorContainerName(config.app.name, 'blue'), o.signal),
      docker.inspect(colorContainerName(config.app.name, 'green'), o.signal),
    ]);
    const to = otherColor(from);
    const toName = colorContainerName(config.app.name, to);
    const prev = to === 'blue' ? blue : green;
    if (!prev) {
      throw new OperationError(`there is no ${toName} container to roll back to`, 'Deploy the version you want instead (deploy_blue_green with a ref).');
    }
    const version = prev.labels[LABEL_VERSION] ?? null;
    const running = prev.state === 'running';
    return await runOperation<RollbackPhase, RollbackResult>(
      svc,
      {
        ...o,
        kind: 'rollback',
        detail: { fromColor: from, toColor: to, container: toName },
        facts: { fromColor: from, toColor: to, image: prev.image, version, commit: prev.labels[LABEL_COMMIT] ?? null },
      },
      async (op) => {
        try {
          const r = await cutover(op, {
            from,
            to,
            prepare: { existing: true },
            // A stopped color gets the full gate; a running one only a quick check.
            gate: running ? quickGate(svc) : configGate(svc),
            // A running previous color passed its gate when it was deployed, served as the live color, and
            // passes the quick gate now: once nginx's old workers stopped accepting, a confirming probe through
            // the front that it answers is the verification. A color we had to start gets the window.
            verify: { seconds: config.deploy.rollbackVerifySeconds, intervalMs: 250, confirm: running },
            retire: 'running',
            armed,
          });
          const durationMs = Math.round(performance.now() - t0);
          op.progress(`rolled back to ${to} (${version ?? prev.image}) in ${durationMs} ms`);
          return { operationId: op.id, fromColor: from, toColor: to, liveColor: to, image: prev.image, version, startedContainer: r.startedContainer, durationMs };
        } catch (e) {
          if (!(e instanceof CutoverFailed)) throw e;
          throw new OperationError(e.message, e.hint, { operationId: op.id, phase: e.phase, liveColor: e.liveColor, lastLogLines: await lastLogs(svc, toName) }, e.switchedBack ? 'rolled_back' : 'failed');
        }
      },
    );
  } finally {
    // Used by the switch, or never: either way nothing of it may run later.
    armed.cancel();
  }
}

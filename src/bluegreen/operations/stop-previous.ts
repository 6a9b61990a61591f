/**
 * The timed stop of the previous color (deploy.keepPrevious "<minutes>"),
 * run by the server's watch when the time is up: a short `stop` operation
 * under the lock, recorded in the history. Looked at without the lock first,
 * so a record that no longer applies costs nothing; decided again under it.
 */
import type { Services } from '../../services.js';
import { readUpstream } from '../nginx.js';
import { runOperation } from '../operation.js';
import { decidePreviousStop, readPreviousStop, sweepPreviousStop } from '../previous-color.js';
import type { WatchCheck } from '../previous-watch.js';
import { LockHeldError } from '../types.js';

export const KEEP_PREVIOUS_CALLER = 'deploy.keepPrevious';

export async function stopPreviousIfDue(svc: Services, signal?: AbortSignal): Promise<WatchCheck> {
  const { pool, docker, config } = svc;
  const stateDir = config.state.dir;
  const rec = await readPreviousStop(pool, stateDir, signal);
  if (!rec) return {};
  const live = (await readUpstream(pool, config, signal)).info.color;
  const first = decidePreviousStop(rec, new Date(), live, await docker.inspect(rec.container, signal));
  if (first.action === 'wait') return { retryInMs: first.dueInMs };
  // Not applicable any more: leave the record, the next deploy replaces it.
  if (first.action === 'drop') return {};
  try {
    return await runOperation<'locked' | 'stop', WatchCheck>(
      svc,
      { kind: 'stop', who: { caller: KEEP_PREVIOUS_CALLER }, progress: () => {}, signal, detail: { container: rec.container }, facts: { fromColor: rec.color } },
      async (op) => {
        await op.phase('stop');
        const upNow = (await readUpstream(pool, config, op.signal)).info.color;
        const out = await sweepPreviousStop({ pool, docker, stateDir, liveColor: upNow }, op.signal);
        if (out.action === 'stopped') op.message = `stopped ${out.container}, the previous color, at ${new Date().toISOString()} (due ${out.stopAt}, deploy.keepPrevious)`;
        else if (out.action === 'dropped') op.message = `kept ${out.container}: ${out.why} (deploy.keepPrevious)`;
        else if (out.action === 'none') op.message = 'nothing to stop (deploy.keepPrevious)';
        return out.action === 'wait' ? { retryInMs: out.dueInMs } : {};
      },
    );
  } catch (e) {
    // An operation is running: look again in a minute.
    if (e instanceof LockHeldError) return { retryInMs: 60_000 };
    throw e;
  }
}

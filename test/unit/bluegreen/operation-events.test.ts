/**
 * runOperation tells the operation observers how an operation goes: started,
 * each phase, finished with its outcome, facts and duration, once, whatever
 * the ending. The NAS is a fake that accepts every command (the lock,
 * journal and history protocols are tested on their own and on the sandbox).
 */
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config.js';
import { OperationError, runOperation } from '../../../src/bluegreen/operation.js';
import type { OperationFinished, OperationPhase, OperationStarted } from '../../../src/ops/events.js';
import { OperationEventHub } from '../../../src/ops/events.js';
import type { Services } from '../../../src/services.js';
import { memoryLogger } from '../server/fixtures.js';

const ok = { code: 0, signal: undefined, stdout: '', stderr: '', stdoutTruncated: false, stderrTruncated: false, durationMs: 1 };

function fakeNas() {
  const sftp = { writeFile: (_p: string, _c: unknown, _o: unknown, cb: (e?: Error) => void) => cb(), ext_openssh_rename: (_a: string, _b: string, cb: (e?: Error) => void) => cb(), unlink: (_p: string, cb: (e?: Error) => void) => cb() };
  return {
    exec: async () => ok,
    run: async () => ok,
    sharedSftp: async () => sftp,
    withSftp: async <T>(fn: (s: typeof sftp) => Promise<T>) => fn(sftp),
  };
}

function setup() {
  const config = configSchema.parse({
    nas: { host: 'nas.local', username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
  });
  const hub = new OperationEventHub(memoryLogger().log);
  const seen: { started: OperationStarted[]; phases: OperationPhase[]; finished: OperationFinished[] } = { started: [], phases: [], finished: [] };
  hub.subscribe({ started: (e) => seen.started.push(e), phase: (e) => seen.phases.push(e), finished: (e) => seen.finished.push(e) });
  const svc = { target: 'prod', config, pool: fakeNas(), log: memoryLogger().log, events: hub } as unknown as Services;
  const o = { kind: 'rollback' as const, who: { caller: 'token:abc' }, progress: () => {}, detail: { fromColor: 'green', toColor: 'blue' }, facts: { fromColor: 'green' as const, toColor: 'blue' as const } };
  return { svc, seen, o, hub };
}

describe('runOperation events', () => {
  it('a success: started with the detail, each phase, one finished with the facts the body learnt', async () => {
    const { svc, seen, o } = setup();
    const r = await runOperation<'locked' | 'switch' | 'verify', string>(svc, o, async (op) => {
      await op.phase('switch');
      await op.phase('verify');
      op.facts.version = '1.0.0';
      return 'done';
    });
    expect(r).toBe('done');
    expect(seen.started).toEqual([expect.objectContaining({ kind: 'rollback', app: 'loop-api', target: 'prod', who: 'token:abc', detail: { fromColor: 'green', toColor: 'blue' } })]);
    expect(seen.phases.map((p) => p.phase)).toEqual(['locked', 'switch', 'verify']);
    expect(seen.finished).toHaveLength(1);
    expect(seen.finished[0]).toMatchObject({ operationId: seen.started[0]!.operationId, outcome: 'succeeded', fromColor: 'green', toColor: 'blue', version: '1.0.0', message: null });
    expect(seen.finished[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('traffic put back: finished says rolled_back with the reason', async () => {
    const { svc, seen, o } = setup();
    await expect(
      runOperation(svc, { ...o, kind: 'deploy' }, async () => {
        throw new OperationError('the front failed verification; switched back to green', 'hint', undefined, 'rolled_back');
      }),
    ).rejects.toThrow(/switched back/);
    expect(seen.finished).toEqual([expect.objectContaining({ kind: 'deploy', outcome: 'rolled_back', message: 'the front failed verification; switched back to green' })]);
  });

  it('an unexpected error: finished says failed', async () => {
    const { svc, seen, o } = setup();
    await expect(runOperation(svc, o, async () => { throw new Error('ssh dropped'); })).rejects.toThrow('ssh dropped');
    expect(seen.finished).toEqual([expect.objectContaining({ outcome: 'failed', message: 'ssh dropped' })]);
  });

  it('a listener that throws changes nothing for the operation', async () => {
    const { svc, seen, o, hub } = setup();
    hub.subscribe({ started: () => { throw new Error('observer bug'); }, finished: () => { throw new Error('observer bug'); } });
    await expect(runOperation(svc, o, async () => 'fine')).resolves.toBe('fine');
    expect(seen.finished).toHaveLength(1);
  });
});

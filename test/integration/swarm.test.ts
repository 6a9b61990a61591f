/**
 * The Swarm driver against the sandbox's Swarm manager (scripts/sandbox/swarm.sh: its own network
 * namespace, sshd and dockerd), through SSH with the pinned host key and the scoped sudo user, under
 * continuous load through the swarm front (nginx on the overlay, resolving tasks.loop-api): a deploy,
 * a rollback, a version failing its health check, a rolling restart, logs. The swarm app is reset
 * before and after (initial version, no history).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/bluegreen/operation.js';
import type { ServiceBundle } from '../../src/services.js';
import { swarmDeploy, swarmLogs, swarmRestart, swarmRollback, swarmStatus, swarmStatusText, type SwarmContext, type SwarmDeployFailure } from '../../src/swarm/index.js';
import { startLoad } from '../helpers/load.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { commitToSwarmOrigin, getSwarm, resetSwarm, swarmServices, type SwarmFacts } from '../helpers/swarm.js';

const sandbox = getSandbox();
const swarm = sandbox ? getSwarm() : { facts: null, reason: sandboxSkipReason() };
const facts = swarm.facts;

describe.skipIf(!facts)(`swarm target on the sandbox manager${facts ? '' : ` (skipped: ${swarm.reason})`}`, () => {
  let bundle: ServiceBundle;
  let ctx: SwarmContext;
  let f: SwarmFacts;
  const who = { caller: 'swarm-test' };
  const progress: string[] = [];
  const run = () => ({ who, progress: (m: string) => progress.push(m) });

  beforeAll(async () => {
    f = facts!;
    resetSwarm(f);
    ({ bundle, ctx } = await swarmServices(f));
  });
  afterAll(async () => {
    await bundle?.close();
    if (facts) resetSwarm(facts);
  });

  it('status reads like the single host: live version, replicas, each task with node, state and health', async () => {
    const st = await swarmStatus(ctx);
    expect(st.driver).toBe('swarm');
    expect(st.live.version).toBe(f.apps['loop-api'].initialVersion);
    expect(st.replicas).toEqual({ desired: 2, running: 2, healthy: 2 });
    expect(st.tasks.map((t) => [t.name, t.state, t.health])).toEqual([
      ['loop-api.1', 'running', 'healthy'],
      ['loop-api.2', 'running', 'healthy'],
    ]);
    expect(st.tasks.every((t) => t.node)).toBe(true);
    expect(st.endpointMode).toBe('dnsrr');
    expect(st.lock.held).toBe(false);
    expect(st.warnings).toEqual([]);
    expect(swarmStatusText(st)).toContain('2/2 replicas running');
  });

  it('deploys a new version under continuous load through the front: 0 failed requests, the front serves it', async () => {
    commitToSwarmOrigin(f, { VERSION: '1.1.0' }, 'swarm 1.1.0');
    const load = startLoad(f.apps['loop-api'].frontUrl);
    progress.length = 0;
    const r = await swarmDeploy(ctx, { pull: true }, run());
    const rep = await load.stop('swarm deploy');
    expect(r.version).toBe('1.1.0');
    expect(r.update.state).toBe('completed');
    expect(r.replicas).toEqual({ desired: 2, running: 2 });
    expect(rep.failures, rep.failureSamples.join('\n')).toBe(0);
    expect(rep.versions).toContain('1.1.0');
    expect(rep.lastVersion).toBe('1.1.0');
    // Progress told the task changes and the manager's end of the update.
    expect(progress.some((p) => /task loop-api\.\d .*running/.test(p))).toBe(true);
    expect(progress).toContain('update completed: update completed');
    const st = await swarmStatus(ctx);
    expect(st.live).toMatchObject({ version: '1.1.0', image: r.image, deploymentId: r.operationId });
    expect(st.tasks.every((t) => t.image === r.image && t.state === 'running')).toBe(true);
    expect(st.previous?.image).toBe(r.fromImage);
    expect(st.recentDeployments[0]).toMatchObject({ id: r.operationId, kind: 'deploy', outcome: 'succeeded', version: '1.1.0' });
    expect(st.lock.held).toBe(false);
  });

  it('rolls back to the previous spec under load: 0 failed requests, the previous version serves', async () => {
    const load = startLoad(f.apps['loop-api'].frontUrl);
    const r = await swarmRollback(ctx, run());
    const rep = await load.stop('swarm rollback');
    expect(r.image).toBe(f.apps['loop-api'].initialImage);
    expect(rep.failures, rep.failureSamples.join('\n')).toBe(0);
    expect(rep.lastVersion).toBe(f.apps['loop-api'].initialVersion);
    const st = await swarmStatus(ctx);
    expect(st.live.image).toBe(f.apps['loop-api'].initialImage);
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'rollback', outcome: 'succeeded' });
    expect(st.previous?.version).toBe('1.1.0');
  });

  it('a version failing its health check is rolled back by the manager, never served, 0 failed requests', async () => {
    commitToSwarmOrigin(f, { VERSION: '1.2.0', MODE: 'fail' }, 'swarm 1.2.0 failing');
    const before = await swarmStatus(ctx);
    const load = startLoad(f.apps['loop-api'].frontUrl);
    const err = await swarmDeploy(ctx, { pull: true }, run()).then(
      () => undefined,
      (e: unknown) => e,
    );
    const rep = await load.stop('swarm failing deploy');
    expect(err).toBeInstanceOf(OperationError);
    const e = err as OperationError<SwarmDeployFailure>;
    expect(e.outcome).toBe('rolled_back');
    expect(e.message).toMatch(/rolled it back/);
    expect(e.result?.liveImage).toBe(before.live.image);
    expect(e.result?.update?.state).toBe('rollback_completed');
    // The failing task is named, with its health output or last log lines when the manager has
    // not removed its container yet (a race: sometimes nothing is left to read).
    expect(e.result?.failedTask?.image).toBe(e.result?.image);
    const evidence = [...(e.result?.failedTask?.lastLogLines ?? []), e.result?.failedTask?.healthOutput ?? ''].join('\n').trim();
    if (evidence) expect(evidence).toMatch(/1\.2\.0|health|500/);
    else console.info('the failing task left no logs or health output to quote (its container was already removed)');
    expect(rep.failures, rep.failureSamples.join('\n')).toBe(0);
    expect(rep.versions).not.toContain('1.2.0');
    const st = await swarmStatus(ctx);
    expect(st.live.image).toBe(before.live.image);
    expect(st.replicas.running).toBe(2);
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'rolled_back', version: '1.2.0' });
    expect(st.lock.held).toBe(false);
    // Nothing to go back to: the manager keeps no previous spec after its automatic rollback (and ours
    // would be the failed version): refused, not a blind step.
    await expect(swarmRollback(ctx, run())).rejects.toThrow(/no previous spec|rolled back automatically/);
  });

  it('restarts every task, one at a time, under load: 0 failed requests', async () => {
    const before = await swarmStatus(ctx);
    const load = startLoad(f.apps['loop-api'].frontUrl);
    const r = await swarmRestart(ctx, run());
    const rep = await load.stop('swarm restart');
    expect(r.update.state).toBe('completed');
    expect(r.tasksReplaced).toBe(2);
    expect(rep.failures, rep.failureSamples.join('\n')).toBe(0);
    const st = await swarmStatus(ctx);
    expect(st.tasks.map((t) => t.id).filter((id) => before.tasks.some((b) => b.id === id))).toEqual([]);
    expect(st.replicas).toMatchObject({ running: 2, healthy: 2 });
  });

  it('reads the logs of the service and of one task by slot', async () => {
    const all = await swarmLogs(ctx, { tail: 50 });
    expect(all.lines.some((l) => /listening on :8081/.test(l.text))).toBe(true);
    // Right after the rolling restart above Docker may never end the service's stream: then each task's logs, and the answer says so.
    if (all.partial) console.log(`swarm logs: ${all.note}`);
    expect(all.note).toEqual(all.partial ? expect.stringMatching(/^Docker did not end the service log stream within \d/) : null);
    const one = await swarmLogs(ctx, { tail: 20, task: '1' });
    expect(one.task).toMatch(/^loop-api\.1 /);
    // The app logs each request it serves (the load above): the task's own lines, whatever they are.
    expect(one.lines.some((l) => /loop-api\[swarm\]/.test(l.text))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import type { DockerEngine, ServiceInfo, TaskInfo } from '../../../src/docker/index.js';
import { parseService, parseTasks } from '../../../src/docker/swarm-requests.js';
import { allOn, endOf, failingTask, followUpdate, taskLine } from '../../../src/swarm/follow.js';
import { rawService, rawTask } from './fixtures.js';

const task = (over: Parameters<typeof rawTask>[0]): TaskInfo => parseTasks([rawTask(over)])[0]!;

describe('the end of an update', () => {
  it('maps the manager states', () => {
    expect(endOf('completed')).toBe('completed');
    expect(endOf('rollback_completed')).toBe('rolled_back');
    expect(endOf('paused')).toBe('paused');
    expect(endOf('rollback_paused')).toBe('paused');
    expect(endOf('updating')).toBeNull();
    expect(endOf('rollback_started')).toBeNull();
  });

  it('every slot on the new image and running: done', () => {
    const on = [task({ ID: 'a0000000001', Slot: 1, image: 'new' }), task({ ID: 'a0000000002', Slot: 2, image: 'new' })];
    expect(allOn(on, 'new', 2)).toBe(true);
    expect(allOn(on, 'new', 3)).toBe(false);
    expect(allOn([...on, task({ ID: 'a0000000003', Slot: 3, image: 'old' })], 'new', 2)).toBe(false);
    expect(allOn([on[0]!, task({ ID: 'a0000000004', Slot: 2, image: 'new', state: 'starting' })], 'new', 2)).toBe(false);
    // Old tasks already shut down do not count.
    expect(allOn([...on, task({ ID: 'a0000000005', image: 'old', DesiredState: 'shutdown', state: 'shutdown' })], 'new', 2)).toBe(true);
    expect(allOn(on, undefined, 2)).toBe(false);
  });

  it('the failing task: newest of the new image not running, one that had a container first', () => {
    const tasks = [
      task({ ID: 'ok000000001', image: 'new' }),
      task({ ID: 'old00000001', image: 'old', state: 'failed', Status: { State: 'failed', Timestamp: '2026-12-06T06:09:00Z' } }),
      task({ ID: 'died0000001', image: 'new', state: 'complete', Status: { State: 'complete', Timestamp: '2026-12-06T06:02:00Z', ContainerStatus: { ContainerID: 'c'.repeat(64) } } }),
      // A replacement the rollback shut down before it ever started: newer, but nothing to read.
      task({ ID: 'never000001', image: 'new', state: 'shutdown', Status: { State: 'shutdown', Timestamp: '2026-12-06T06:03:00Z' } }),
    ];
    expect(failingTask(tasks, 'new')?.id).toBe('died0000001');
    expect(failingTask(tasks.slice(0, 1), 'new')).toBeUndefined();
    expect(failingTask([tasks[3]!], 'new')?.id).toBe('never000001');
  });

  it('says a task change in one line', () => {
    const t = task({ ID: 'abcdefghijklmnopqrstuvwxy', Slot: 2, image: 'loop-api:v2', state: 'failed', Status: { State: 'failed', Err: 'unhealthy container' } });
    expect(taskLine('loop-api', t, 'starting')).toBe('task loop-api.2 abcdefghijkl (loop-api:v2): starting → failed — unhealthy container');
  });
});

/** A manager that answers a scripted sequence of (service, tasks) reads, the last one repeated. */
function fakeDocker(steps: Array<{ service: ServiceInfo; tasks: TaskInfo[] }>): DockerEngine {
  let i = 0;
  let current = steps[0]!;
  return {
    inspectService: async () => {
      current = steps[Math.min(i++, steps.length - 1)]!;
      return current.service;
    },
    serviceTasks: async () => current.tasks,
  } as unknown as DockerEngine;
}

const svc = (status: { State: string; StartedAt: string; Message?: string } | undefined) => parseService(rawService({ UpdateStatus: status }));

describe('followUpdate', () => {
  const base = { progress: () => {}, signal: new AbortController().signal, timeoutMs: 60_000, pollMs: 1 };

  it('waits past the previous update\'s finished status, tells the progress, ends with the manager\'s word', async () => {
    const lines: string[] = [];
    const old = { State: 'completed', StartedAt: 'T0' };
    const docker = fakeDocker([
      { service: svc(old), tasks: [task({ ID: 'old00000001', image: 'v1' })] },
      { service: svc(undefined), tasks: [task({ ID: 'old00000001', image: 'v1' }), task({ ID: 'new00000001', image: 'v2', state: 'starting' })] },
      { service: svc({ State: 'updating', StartedAt: 'T1', Message: 'update in progress' }), tasks: [task({ ID: 'new00000001', image: 'v2' })] },
      { service: svc({ State: 'completed', StartedAt: 'T1', Message: 'update completed' }), tasks: [task({ ID: 'new00000001', image: 'v2' })] },
    ]);
    const r = await followUpdate(docker, 'loop-api', { ...base, startedBefore: 'T0', image: 'v2', progress: (m) => lines.push(m) });
    expect(r.end).toBe('completed');
    expect(r.status?.message).toBe('update completed');
    expect(lines).toEqual([
      'task loop-api.1 new00000001 (v2): starting',
      'task loop-api.1 new00000001 (v2): starting → running',
      'update updating: update in progress',
      'update completed: update completed',
    ]);
  });

  it('an automatic rollback ends as rolled_back', async () => {
    const docker = fakeDocker([
      { service: svc({ State: 'updating', StartedAt: 'T1' }), tasks: [] },
      { service: svc({ State: 'rollback_started', StartedAt: 'T1', Message: 'update rolled back due to failure' }), tasks: [] },
      { service: svc({ State: 'rollback_completed', StartedAt: 'T1', Message: 'rollback completed' }), tasks: [] },
    ]);
    expect((await followUpdate(docker, 'loop-api', { ...base, startedBefore: null, image: 'v2' })).end).toBe('rolled_back');
  });

  it('no status of its own but every task already on the image: completed after a few quiet reads', async () => {
    const docker = fakeDocker([{ service: svc(undefined), tasks: [task({ ID: 'new00000001', Slot: 1, image: 'v2' }), task({ ID: 'new00000002', Slot: 2, image: 'v2' })] }]);
    expect((await followUpdate(docker, 'loop-api', { ...base, startedBefore: null, image: 'v2' })).end).toBe('completed');
  });

  it('stops watching when told (the manager carries on): unknown', async () => {
    const ac = new AbortController();
    const docker = fakeDocker([{ service: svc({ State: 'updating', StartedAt: 'T1' }), tasks: [] }]);
    setTimeout(() => ac.abort(), 20);
    expect((await followUpdate(docker, 'loop-api', { ...base, signal: ac.signal, startedBefore: null })).end).toBe('unknown');
  });
});

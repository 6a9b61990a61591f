import { describe, expect, it } from 'vitest';
import {
  imageWithoutDigest,
  parseNodes,
  parseService,
  parseTasks,
  specWithForceUpdate,
  specWithImage,
  specWithSafeUpdates,
  swarmPaths,
  updateInProgress,
} from '../../../src/docker/swarm-requests.js';
import { rawService, rawTask } from '../swarm/fixtures.js';

const NS = 1_000_000_000;

describe('Swarm Engine API paths', () => {
  it('builds service, tasks, nodes and logs paths', () => {
    expect(swarmPaths.service('loop-api')).toBe('/v1.41/services/loop-api');
    expect(swarmPaths.serviceUpdate('zu0euhgzczemty8xmh2sshp0g', 42)).toBe('/v1.41/services/zu0euhgzczemty8xmh2sshp0g/update?version=42');
    expect(swarmPaths.serviceUpdate('zu0euhgzczemty8xmh2sshp0g', 42, { rollback: true })).toBe(
      '/v1.41/services/zu0euhgzczemty8xmh2sshp0g/update?version=42&rollback=previous',
    );
    const tasks = new URL(`http://x${swarmPaths.tasks('loop-api')}`);
    expect(tasks.pathname).toBe('/v1.41/tasks');
    expect(JSON.parse(tasks.searchParams.get('filters')!)).toEqual({ service: ['loop-api'] });
    expect(swarmPaths.nodes()).toBe('/v1.41/nodes');
    expect(swarmPaths.serviceLogs('loop-api', { stdout: true, stderr: true, tail: 50 })).toBe('/v1.41/services/loop-api/logs?stdout=1&stderr=1&tail=50&timestamps=0');
    expect(swarmPaths.taskLogs('ciuyq9dqlyicx77dx0ralmzwc', { stdout: true, stderr: false, tail: 20, since: 1700000000 })).toBe(
      '/v1.41/tasks/ciuyq9dqlyicx77dx0ralmzwc/logs?stdout=1&stderr=0&tail=20&since=1700000000&timestamps=0',
    );
  });

  it.each(['../x', 'a/b', '', 'a b', '-rf'])('refuses service name %j', (bad) => {
    expect(() => swarmPaths.service(bad)).toThrow(/invalid service name/);
    expect(() => swarmPaths.tasks(bad)).toThrow(/invalid service name/);
  });

  it.each(['../x', 'ABC', 'a'.repeat(5), 'abc/def0123'])('refuses object id %j', (bad) => {
    expect(() => swarmPaths.taskLogs(bad, { stdout: true, stderr: true })).toThrow(/invalid task id/);
    expect(() => swarmPaths.serviceUpdate(bad, 1)).toThrow(/invalid service id/);
  });

  it('refuses a version that is not a whole number', () => {
    expect(() => swarmPaths.serviceUpdate('zu0euhgzczemty8xmh2sshp0g', 1.5)).toThrow(/invalid service version/);
    expect(() => swarmPaths.serviceUpdate('zu0euhgzczemty8xmh2sshp0g', -1)).toThrow(/invalid service version/);
  });
});

describe('parseService', () => {
  it('reads image (digest dropped), labels, replicas, policies, update status and the previous spec', () => {
    const s = parseService(rawService());
    expect(s).toMatchObject({
      id: 'zu0euhgzczemty8xmh2sshp0g',
      name: 'loop-api',
      version: 42,
      image: 'loop-api:20261206060500-abc1234',
      labels: { 'loop-ops.version': '1.1.0' },
      replicas: 2,
      endpointMode: 'dnsrr',
      forceUpdate: 3,
      update: { parallelism: 1, delaySeconds: 1, failureAction: 'rollback', monitorSeconds: 5, maxFailureRatio: 0, order: 'start-first' },
      rollback: { failureAction: 'pause', order: 'start-first' },
      updateStatus: { state: 'completed', message: 'update completed', startedAt: '2026-12-06T06:05:10Z', completedAt: '2026-12-06T06:05:30Z' },
      previousImage: 'loop-api:swarm-initial',
      previousLabels: { 'loop-ops.version': '1.0.0' },
    });
  });

  it('a fresh service: no update status, no previous spec, VIP by default; a global one has no replica count', () => {
    const raw = rawService({ UpdateStatus: undefined, PreviousSpec: undefined });
    raw.Spec.EndpointSpec = undefined;
    raw.Spec.Mode = { Global: {} };
    raw.Spec.UpdateConfig = undefined;
    const s = parseService(raw);
    expect(s).toMatchObject({ updateStatus: null, previousImage: null, previousLabels: null, endpointMode: 'vip', replicas: null, update: null });
  });

  it('tells an update in progress', () => {
    expect(updateInProgress(null)).toBe(false);
    for (const state of ['updating', 'rollback_started']) expect(updateInProgress({ state, message: null, startedAt: null, completedAt: null })).toBe(true);
    for (const state of ['completed', 'paused', 'rollback_completed', 'rollback_paused']) {
      expect(updateInProgress({ state, message: null, startedAt: null, completedAt: null })).toBe(false);
    }
  });
});

describe('parseTasks and parseNodes', () => {
  it('reads state, error and container; sorted by slot, newest first within a slot', () => {
    const tasks = parseTasks([
      rawTask({ ID: 'task0000002', Slot: 2 }),
      rawTask({ ID: 'task0000001old', Slot: 1, CreatedAt: '2026-12-06T06:00:00Z', DesiredState: 'shutdown', state: 'shutdown' }),
      rawTask({
        ID: 'task0000001new',
        Slot: 1,
        CreatedAt: '2026-12-06T06:02:00Z',
        state: 'failed',
        Status: { State: 'failed', Err: 'task: non-zero exit (1)', Timestamp: '2026-12-06T06:02:09Z' },
      }),
    ]);
    expect(tasks.map((t) => t.id)).toEqual(['task0000001new', 'task0000001old', 'task0000002']);
    expect(tasks[0]).toMatchObject({ slot: 1, state: 'failed', error: 'task: non-zero exit (1)', containerId: null, exitCode: null, since: '2026-12-06T06:02:09Z' });
    expect(tasks[2]).toMatchObject({ state: 'running', desiredState: 'running', image: 'loop-api:v2', containerId: 'b'.repeat(64), nodeId: 'w2dggnbbrueqltwt554hws4nv' });
  });

  it('reads nodes with their role, state and leadership', () => {
    expect(
      parseNodes([
        { ID: 'w2dggnbbrueqltwt554hws4nv', Description: { Hostname: 'nas' }, Spec: { Role: 'manager', Availability: 'active' }, Status: { State: 'ready', Addr: '10.77.1.2' }, ManagerStatus: { Leader: true } },
        { ID: 'x2dggnbbrueqltwt554hws4nv' },
      ]),
    ).toEqual([
      { id: 'w2dggnbbrueqltwt554hws4nv', hostname: 'nas', role: 'manager', availability: 'active', state: 'ready', addr: '10.77.1.2', leader: true },
      { id: 'x2dggnbbrueqltwt554hws4nv', hostname: 'x2dggnbbrueq', role: 'unknown', availability: 'unknown', state: 'unknown', addr: null, leader: false },
    ]);
  });

  it('drops the digest the CLI pins, and only a digest', () => {
    expect(imageWithoutDigest(`loop-api:v1@sha256:${'f'.repeat(64)}`)).toBe('loop-api:v1');
    expect(imageWithoutDigest('loop-api:v1')).toBe('loop-api:v1');
    expect(imageWithoutDigest('registry:5000/loop-api:v1')).toBe('registry:5000/loop-api:v1');
  });
});

describe('spec changes', () => {
  it('a new image and labels, everything else kept (mounts, networks, env, restart policy), the original untouched', () => {
    const spec = rawService().Spec;
    const before = structuredClone(spec);
    const next = specWithImage(spec, 'loop-api:20261206070000-def5678', { 'loop-ops.version': '1.2.0', 'loop-ops.deployment': 'deploy-1' });
    expect(next.TaskTemplate.ContainerSpec.Image).toBe('loop-api:20261206070000-def5678');
    expect(next.Labels).toEqual({ 'loop-ops.app': 'loop-api', 'loop-ops.version': '1.2.0', 'loop-ops.deployment': 'deploy-1' });
    expect(next.TaskTemplate.ContainerSpec.Mounts).toEqual(before.TaskTemplate.ContainerSpec.Mounts);
    expect(next.TaskTemplate.Networks).toEqual(before.TaskTemplate.Networks);
    expect(next.TaskTemplate.RestartPolicy).toEqual(before.TaskTemplate.RestartPolicy);
    expect(spec).toEqual(before);
  });

  it('refuses an image reference a shell or the Engine could misread', () => {
    expect(() => specWithImage(rawService().Spec, 'loop-api:v1; rm -rf /', {})).toThrow(/invalid image reference/);
  });

  it('ForceUpdate + 1 is a rolling restart of the same spec', () => {
    const spec = rawService().Spec;
    expect(specWithForceUpdate(spec).TaskTemplate.ForceUpdate).toBe(4);
    delete spec.TaskTemplate.ForceUpdate;
    expect(specWithForceUpdate(spec).TaskTemplate.ForceUpdate).toBe(1);
  });

  it('the safe update policy: start-first, one at a time, monitored, rolled back on the first failure; rollback pauses if it fails', () => {
    const spec = rawService().Spec;
    spec.UpdateConfig = { Parallelism: 4, Order: 'stop-first', FailureAction: 'continue', Delay: 2 * NS, MaxFailureRatio: 0.5 };
    spec.RollbackConfig = undefined;
    const next = specWithSafeUpdates(spec, 7.5);
    expect(next.UpdateConfig).toEqual({ Parallelism: 1, Order: 'start-first', FailureAction: 'rollback', Monitor: 7.5 * NS, MaxFailureRatio: 0, Delay: 2 * NS });
    expect(next.RollbackConfig).toEqual({ Parallelism: 1, Order: 'start-first', FailureAction: 'pause', Monitor: 7.5 * NS, MaxFailureRatio: 0 });
  });
});

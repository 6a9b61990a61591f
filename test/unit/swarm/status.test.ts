import { describe, expect, it } from 'vitest';
import { parseTasks } from '../../../src/docker/swarm-requests.js';
import { resolveSwarmApp } from '../../../src/swarm/app.js';
import { refusedBecauseFailed } from '../../../src/swarm/rollback.js';
import { parseLock, summarizeTask, swarmStatusText, type SwarmAppStatus } from '../../../src/swarm/status.js';
import type { HistoryRecord } from '../../../src/domain/index.js';
import { rawTask } from './fixtures.js';

describe('a swarm app from its config', () => {
  it('defaults: service = app name, state dir under the target\'s, safe monitor window', () => {
    expect(resolveSwarmApp('loop-api', { checkoutDir: '/volume1/docker/loop-api/src' }, '/volume1/docker/loop-ops/')).toMatchObject({
      name: 'loop-api',
      service: 'loop-api',
      replicas: 2,
      updateMonitorSeconds: 5,
      stateDir: '/volume1/docker/loop-ops/loop-api',
    });
  });

  it('names the bad key', () => {
    expect(() => resolveSwarmApp('loop-api', { checkoutDir: 'relative' }, '/s')).toThrow(/checkoutDir|absolute/);
    expect(() => resolveSwarmApp('loop-api', { checkoutDir: '/c', service: 'bad name' }, '/s')).toThrow(/Docker-style name/);
    expect(() => resolveSwarmApp('loop-api', { checkoutDir: '/c', colorPorts: {} } as never, '/s')).toThrow(/colorPorts/);
  });
});

describe('task summaries', () => {
  const now = Date.parse('2026-12-06T06:11:55Z');
  it('running: uptime from its state time, health from the container', () => {
    const [t] = parseTasks([rawTask({ Slot: 2, image: 'loop-api:v2', Status: { State: 'running', Timestamp: '2026-12-06T06:01:55Z' } })]);
    expect(summarizeTask('loop-api', t!, { health: 'healthy', nodeName: 'nas', versionOf: () => '1.1.0', now })).toMatchObject({
      name: 'loop-api.2',
      node: 'nas',
      state: 'running',
      health: 'healthy',
      version: '1.1.0',
      uptimeSeconds: 600,
    });
  });

  it('on another node (no container to inspect): starting is starting, else unknown', () => {
    const [a, b] = parseTasks([rawTask({ ID: 'task0000001', state: 'starting' }), rawTask({ ID: 'task0000002', Slot: 2 })]);
    expect(summarizeTask('loop-api', a!, { now }).health).toBe('starting');
    expect(summarizeTask('loop-api', b!, { now }).health).toBe('unknown');
  });
});

describe('the lock as status shows it', () => {
  it('details, missing details, no lock', () => {
    expect(parseLock('{"operationId":"deploy-1","operation":"deploy","holder":"me","since":"S","host":"h","pid":7}', true)).toMatchObject({
      held: true,
      holder: 'me',
      operationId: 'deploy-1',
      pid: 7,
    });
    expect(parseLock(undefined, true)).toMatchObject({ held: true, holder: expect.stringMatching(/unknown/) });
    expect(parseLock(undefined, false).held).toBe(false);
  });
});

describe('rollback refusal after an automatic rollback', () => {
  const rec = (kind: HistoryRecord['kind'], image: string, outcome: string): HistoryRecord => ({
    id: `${kind}-x`,
    kind,
    fromColor: null,
    toColor: null,
    image,
    version: null,
    commit: null,
    who: 'me',
    startedAt: 'S',
    endedAt: 'E',
    outcome,
    message: null,
  } as HistoryRecord);

  it('refuses going "back" to the version whose deploy the manager rolled back', () => {
    expect(refusedBecauseFailed([rec('deploy', 'v1', 'succeeded'), rec('deploy', 'v2', 'rolled_back')], 'v2')).toBe(true);
  });
  it('allows the previous version after a good deploy, or after a rollback', () => {
    expect(refusedBecauseFailed([rec('deploy', 'v2', 'succeeded')], 'v1')).toBe(false);
    expect(refusedBecauseFailed([rec('deploy', 'v2', 'rolled_back'), rec('rollback', 'v1', 'succeeded')], 'v2')).toBe(false);
    expect(refusedBecauseFailed([], 'v1')).toBe(false);
  });
});

describe('status text', () => {
  it('reads like the single host\'s: what is live, each task, the update, the lock, the last deployment', () => {
    const st: SwarmAppStatus = {
      app: 'loop-api',
      driver: 'swarm',
      service: 'loop-api',
      exists: true,
      live: { image: 'loop-api:v2', version: '1.1.0', commit: 'abc', deploymentId: 'deploy-1' },
      replicas: { desired: 2, running: 2, healthy: 2 },
      tasks: [
        { name: 'loop-api.1', id: 'abc', node: 'nas', state: 'running', desiredState: 'running', health: 'healthy', image: 'loop-api:v2', version: '1.1.0', since: null, uptimeSeconds: 65, error: null },
      ],
      recentFailedTasks: [],
      update: { state: 'completed', message: 'update completed', startedAt: 'S', completedAt: '2026-12-06T06:05:30Z', inProgress: false },
      previous: { image: 'loop-api:v1', version: '1.0.0' },
      updatePolicy: { order: 'start-first', failureAction: 'rollback', monitorSeconds: 5, parallelism: 1 },
      endpointMode: 'dnsrr',
      nodes: [],
      frontUrl: null,
      lock: parseLock(undefined, false),
      interruptedOperation: null,
      recentDeployments: [],
      warnings: ['a warning'],
      checkedAt: 'now',
    };
    expect(swarmStatusText(st).split('\n')).toEqual([
      'loop-api: swarm service loop-api, live v1.1.0 (loop-api:v2), 2/2 replicas running, 2 healthy',
      'task loop-api.1: running/healthy v1.1.0 (loop-api:v2) on nas up 1m',
      'update: completed (update completed) at 2026-12-06T06:05:30Z',
      'rollback returns to: v1.0.0 (loop-api:v1)',
      'lock: free',
      'warning: a warning',
    ]);
  });
});

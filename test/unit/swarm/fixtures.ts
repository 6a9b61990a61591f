/** Engine answers for the Swarm unit tests (shapes as Docker 28.x sends them, trimmed). */
import type { RawService, RawTask } from '../../../src/docker/swarm-requests.js';

/** A service as the Engine (28.x) answers GET /services/loop-api, trimmed to what matters plus fields we must keep. */
const NS = 1_000_000_000;

export const rawService = (over: Partial<RawService> = {}): RawService => ({
  ID: 'zu0euhgzczemty8xmh2sshp0g',
  Version: { Index: 42 },
  CreatedAt: '2026-12-06T06:01:53.1Z',
  UpdatedAt: '2026-12-06T06:05:10.2Z',
  Spec: {
    Name: 'loop-api',
    Labels: { 'loop-ops.app': 'loop-api', 'loop-ops.version': '1.1.0' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'loop-api:20261206060500-abc1234@sha256:' + 'a'.repeat(64),
        Env: ['COLOR=swarm'],
        Mounts: [{ Type: 'bind', Source: '/volume1/x', Target: '/x' }],
      },
      RestartPolicy: { Condition: 'any', Delay: NS, MaxAttempts: 0 },
      ForceUpdate: 3,
      Networks: [{ Target: 'net1' }],
    },
    Mode: { Replicated: { Replicas: 2 } },
    UpdateConfig: { Parallelism: 1, Delay: NS, FailureAction: 'rollback', Monitor: 5 * NS, MaxFailureRatio: 0, Order: 'start-first' },
    RollbackConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 5 * NS, MaxFailureRatio: 0, Order: 'start-first' },
    EndpointSpec: { Mode: 'dnsrr' },
  },
  PreviousSpec: {
    Name: 'loop-api',
    Labels: { 'loop-ops.version': '1.0.0' },
    TaskTemplate: { ContainerSpec: { Image: 'loop-api:swarm-initial' } },
  },
  UpdateStatus: { State: 'completed', StartedAt: '2026-12-06T06:05:10Z', CompletedAt: '2026-12-06T06:05:30Z', Message: 'update completed' },
  ...over,
});

export const rawTask = (over: Partial<RawTask> & { state?: string; image?: string } = {}): RawTask => {
  const { state = 'running', image = 'loop-api:v2', ...rest } = over;
  return {
    ID: 'ciuyq9dqlyicx77dx0ralmzwc',
    ServiceID: 'zu0euhgzczemty8xmh2sshp0g',
    NodeID: 'w2dggnbbrueqltwt554hws4nv',
    Slot: 1,
    CreatedAt: '2026-12-06T06:01:53Z',
    DesiredState: 'running',
    Spec: { ContainerSpec: { Image: image }, ForceUpdate: 0 },
    Status: { Timestamp: '2026-12-06T06:01:55Z', State: state, Message: 'started', ContainerStatus: { ContainerID: 'b'.repeat(64), ExitCode: 0 } },
    ...rest,
  };
};


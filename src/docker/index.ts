import type { Config } from '../config.js';
import type { SshPool } from '../ssh/pool.js';
import { DockerEngine } from './engine.js';

export { DockerEngine, DockerError, type ContainerImageUse, type ContainerInfo, type LogLine } from './engine.js';
export type { ContainerSpec } from './requests.js';

export function createDockerEngine(pool: SshPool, config: Pick<Config, 'docker' | 'sudo'>): DockerEngine {
  return new DockerEngine(pool, {
    dockerBinary: config.docker.binary,
    sudo: config.sudo.mode !== 'none',
    // Kept-alive dial-stdio channels serving requests in parallel (each one
    // ~0.5 ms a request); the rest of the channel budget stays free for exec.
    maxSockets: 3,
    idleSocketMs: 5 * 60_000,
    requestTimeoutMs: 30_000,
  });
}
export type { NodeInfo, ServiceInfo, TaskInfo, UpdateState, UpdatePolicy, RawServiceSpec } from './swarm-requests.js';

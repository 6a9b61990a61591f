/**
 * The sandbox host a test file's one-host scenarios run on: its vitest
 * project's lane (vitest.config.ts sets LOOP_SANDBOX_LANE; outside vitest,
 * e.g. benchmarks, it is prod). prod and staging are two full copies of the
 * NAS (own sshd, dockerd, nginx, checkouts), so files of two lanes run at
 * the same time without sharing any state.
 */
export type SandboxTargetName = 'prod' | 'staging';

export function sandboxLane(): SandboxTargetName {
  return process.env.LOOP_SANDBOX_LANE === 'staging' ? 'staging' : 'prod';
}

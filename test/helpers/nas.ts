/** Builds the product's own SSH pool and Docker engine from the sandbox config. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type Config, type Secrets } from '../../src/config.js';
import { blueGreenConfig } from '../../src/config/targets.js';
import { createDockerEngine } from '../../src/docker/index.js';
import { createNasPool, type RootRule } from '../../src/ssh/index.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { sandboxLane } from './lane.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
/** The sandbox's targets file: prod and staging, loop-api and loop-auth on each. */
export const SANDBOX_CONFIG = join(REPO_ROOT, '.sandbox', 'config.yaml');
/**
 * The lane's loop-api in the single-NAS format (prod's, or staging's in the staging lane: see
 * sandboxLane): the suite written for one app runs on it, so that format stays tested.
 */
export const SANDBOX_SINGLE_CONFIG = join(REPO_ROOT, '.sandbox', sandboxLane() === 'prod' ? 'config-single.yaml' : `config-single-${sandboxLane()}.yaml`);

export function sandboxConfig(env: Record<string, string | undefined> = {}): { config: Config; secrets: Secrets } {
  const { config, secrets } = loadConfig({ file: SANDBOX_SINGLE_CONFIG, env });
  return { config: blueGreenConfig(config), secrets };
}

export function sandboxPool(overrides: (c: Config) => void = () => {}, secretOverrides: Partial<Secrets> = {}): SshPool {
  const { config, secrets } = sandboxConfig();
  overrides(config);
  return createNasPool(config, { ...secrets, ...secretOverrides });
}

/**
 * A pool logged in as the sandbox's full-sudo admin, allowed (on our side) to
 * run `programs` as root with any arguments: for tests of the sudo protocol
 * itself (stdin, timeouts, cancellation, quoting) with programs the product
 * never runs as root, or the product's own root commands for a config whose
 * paths the sandbox's scoped sudoers does not name (`opts.config`). The
 * product's own user cannot run these on the NAS.
 */
export function adminPool(programs: string[], opts: { config?: Config } = {}): SshPool {
  const { config: sandbox, secrets } = sandboxConfig();
  const config = opts.config ?? sandbox;
  const facts = JSON.parse(readFileSync(join(REPO_ROOT, '.sandbox', 'sandbox.json'), 'utf8')) as { adminUser: string };
  const admin = { ...config, nas: { ...config.nas, username: facts.adminUser } };
  const rules: RootRule[] = programs.flatMap((program) => [
    { id: `test-${program}`, why: 'test', program: config.sudo.programs.timeout, args: ['-k', '2', '[0-9][0-9][0-9][0-9][0-9]', program, '*'] },
    { id: `test-${program}-no-args`, why: 'test', program: config.sudo.programs.timeout, args: ['-k', '2', '[0-9][0-9][0-9][0-9][0-9]', program] },
    { id: `test-${program}-bare`, why: 'test', program, args: ['*'] },
  ]);
  return createNasPool(admin, secrets, undefined, rules);
}

export function sandboxDocker(pool: SshPool) {
  const { config } = sandboxConfig();
  return createDockerEngine(pool, config);
}

/** Processes on this machine (the sandbox NAS is this machine) whose command line matches. */
export function localProcesses(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() && !l.includes('pgrep'));
  } catch {
    return [];
  }
}

export async function waitFor<T>(fn: () => T | Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

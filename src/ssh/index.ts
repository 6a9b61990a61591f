/** Builds the pool for the configured NAS. */
import { readFileSync } from 'node:fs';
import { ConfigError, type Config, type Secrets } from '../config.js';
import type { Logger } from '../log.js';
import type { HostKeyPolicy } from './hostkey.js';
import { SshPool } from './pool.js';
import { dockerRootRules, RootPolicy, rootPolicyFor, UnscopablePathError, type RootRule } from './root-commands.js';

export { SshPool } from './pool.js';
export type { ExecOptions, ExecResult, PoolStats } from './pool.js';
export * from './errors.js';
export { shellQuote, quoteArgv, UnsafeArgumentError } from './quote.js';
export { fingerprintOf } from './hostkey.js';
export { writeFileAtomic, readFileIfExists } from './files.js';
export { rootArgv, rootRules, rootPolicyFor, renderSudoers, targetRootRules, dockerRootRules, RootPolicy, type RootRule } from './root-commands.js';

/** The root command list for this config; a path sudoers cannot match exactly is a config error. */
export function rootPolicyOf(config: Pick<Config, 'sudo' | 'docker'> & Partial<Config>, extra: RootRule[] = [], rules?: RootRule[]): RootPolicy | undefined {
  if (config.sudo.mode === 'none') return undefined;
  try {
    if (rules) return new RootPolicy([...rules, ...extra], config.sudo.programs);
    if (config.app && config.nginx) return rootPolicyFor(config as Config, extra);
    return new RootPolicy([...dockerRootRules(config), ...extra], config.sudo.programs);
  } catch (e) {
    if (e instanceof UnscopablePathError) throw new ConfigError([e.message]);
    throw e;
  }
}

export function hostKeyPolicy(nas: Config['nas']): HostKeyPolicy {
  if (nas.hostKeyFingerprint) return { kind: 'fingerprint', fingerprint: nas.hostKeyFingerprint };
  if (nas.knownHostsPath) return { kind: 'knownHosts', path: nas.knownHostsPath };
  if (nas.insecureAcceptAnyHostKey) return { kind: 'acceptAny' };
  throw new Error('no host key policy configured');
}

/**
 * One target's pool. `config` holds the target's SSH and sudo parts (any of
 * its apps' views); `targetRules` are the root commands of every app on it
 * (default: this one app's). `extraRootRules`: for tests that exercise the
 * sudo protocol itself with a fully privileged user.
 */
export function createNasPool(
  config: Pick<Config, 'nas' | 'sudo' | 'docker'> & Partial<Pick<Config, 'app' | 'nginx'>>,
  secrets: Secrets,
  log?: Logger,
  extraRootRules: RootRule[] = [],
  targetRules?: RootRule[],
): SshPool {
  const nas = config.nas;
  let privateKey: Buffer | undefined;
  if (nas.privateKeyPath) {
    try {
      privateKey = readFileSync(nas.privateKeyPath);
    } catch (e) {
      throw new ConfigError([`nas.privateKeyPath: cannot read ${nas.privateKeyPath} (${(e as NodeJS.ErrnoException).code})`]);
    }
  }
  return new SshPool(
    {
      name: `${nas.username}@${nas.host}:${nas.port}`,
      host: nas.host,
      port: nas.port,
      username: nas.username,
      privateKey,
      passphrase: secrets.sshPassphrase,
      agent: nas.useAgent ? process.env.SSH_AUTH_SOCK : undefined,
      password: secrets.sshPassword,
      hostKey: hostKeyPolicy(nas),
      connectTimeoutMs: nas.connectTimeoutMs,
      keepaliveIntervalMs: nas.keepaliveIntervalMs,
      keepaliveCountMax: nas.keepaliveCountMax,
    },
    {
      maxChannelsPerConnection: nas.maxChannelsPerConnection,
      maxConnections: nas.maxConnections,
      idleTimeoutMs: nas.idleTimeoutMs,
      channelWaitTimeoutMs: nas.channelWaitTimeoutMs,
      sudoMode: config.sudo.mode,
      sudoPassword: secrets.sudoPassword,
      rootPolicy: rootPolicyOf(config, extraRootRules, targetRules),
      defaultTimeoutMs: 60_000,
      defaultMaxOutputBytes: 4 * 1024 * 1024,
    },
    log,
  );
}

/** Builds the pool for the configured NAS. */
import { readFileSync } from 'node:fs';
import { ConfigError, type Config, type Secrets } from '../config.js';
import type { Logger } from '../log.js';
import type { HostKeyPolicy } from './hostkey.js';
import { SshPool } from './pool.js';
import { rootPolicyFor, UnscopablePathError, type RootPolicy, type RootRule } from './root-commands.js';

export { SshPool } from './pool.js';
export type { ExecOptions, ExecResult, PoolStats } from './pool.js';
export * from './errors.js';
export { shellQuote, quoteArgv, UnsafeArgumentError } from './quote.js';
export { fingerprintOf } from './hostkey.js';
export { writeFileAtomic, readFileIfExists } from './files.js';
export { rootArgv, rootRules, rootPolicyFor, renderSudoers, RootPolicy, type RootRule } from './root-commands.js';

/** The root command list for this config; a path sudoers cannot match exactly is a config error. */
export function rootPolicyOf(config: Config, extra: RootRule[] = []): RootPolicy | undefined {
  if (config.sudo.mode === 'none') return undefined;
  try {
    return rootPolicyFor(config, extra);
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

/** `extraRootRules`: for tests that exercise the sudo protocol itself with a fully privileged user. */
export function createNasPool(config: Config, secrets: Secrets, log?: Logger, extraRootRules: RootRule[] = []): SshPool {
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
      rootPolicy: rootPolicyOf(config, extraRootRules),
      defaultTimeoutMs: 60_000,
      defaultMaxOutputBytes: 4 * 1024 * 1024,
    },
    log,
  );
}

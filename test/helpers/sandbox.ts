/**
 * Facts about the sandbox NAS (written by scripts/sandbox.sh to .sandbox/sandbox.json) and how
 * integration tests reach them:
 *
 *   const sandbox = getSandbox();
 *   describe.skipIf(!sandbox)(`deploy (${sandboxSkipReason()})`, () => { ... sandbox!.ssh.port ... });
 */
import { execFileSync } from 'node:child_process';
import { inject } from 'vitest';

export interface SandboxFacts {
  repoRoot: string;
  rootDir: string;
  volume1: string;
  /** .sandbox/config.yaml: the server's config for the sandbox NAS. */
  configPath: string;
  sandboxScript: string;
  /** Same as ssh.username: the user loop-ops-mcp logs in as, whose sudo is scoped by `scopedSudoers`. */
  sshUser: string;
  /** The NAS admin with full password sudo (same key and password): protocol tests and the owner's-way benchmark. */
  adminUser: string;
  /** The sudoers file `loop-ops-mcp sudoers` generated for sshUser, installed on the sandbox NAS. */
  scopedSudoers: string;
  /** The sandbox sshd's config: start a second sshd with it (-o Port=… -o HostKey=… -o PidFile=…). */
  sshdConfig: string;
  sshdPidFile: string;
  /** Password login (sshpass) for benchmarking the owner's old way only; ssh.port is key-only. */
  legacyPasswordSsh: { host: string; port: number; username: string; note: string };
  ssh: {
    host: string;
    port: number;
    username: string;
    privateKeyPath: string;
    knownHostsPath: string;
    /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
    hostKeyFingerprint: string;
  };
  /** The NAS user's sudo password (no trailing newline). */
  sudoPasswordFile: string;
  dockerBinary: string;
  app: {
    name: string;
    checkoutDir: string;
    /** Bare repo the checkout tracks; push to it (or run `sandbox.sh commit FILE=CONTENT…`). */
    originRepo: string;
    branch: string;
    initialCommit: string;
    initialVersion: string;
    initialImage: string;
    baseImage: string;
    vaultDir: string;
    vaultMount: string;
    oauthKeysDir: string;
    dbPath: string;
    network: string;
    containerPort: number;
    colorPorts: { blue: number; green: number };
    containers: { blue: string; green: string };
    watch: string[];
  };
  auth: { container: string; image: string; hostPort: number };
  stateDir: string;
  nginx: {
    conf: string;
    upstreamFile: string;
    testCommand: string[];
    reloadCommand: string[];
    accessLog: string;
  };
  frontUrl: string;
  publicHealthUrl: string;
  logDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** null when the sandbox cannot run here (see sandboxSkipReason). */
    sandbox: SandboxFacts | null;
    sandboxSkipReason: string;
  }
}

/** The sandbox facts, or null if the sandbox is not available (tests should skip). */
export function getSandbox(): SandboxFacts | null {
  return inject('sandbox') ?? null;
}

/** Why the sandbox is unavailable ('' when it is available). */
export function sandboxSkipReason(): string {
  return inject('sandboxSkipReason') ?? '';
}

/**
 * Puts the sandbox app back to its initial state (fresh loop-api-blue from the initial image,
 * checkout and origin at the initial commit, nginx on blue, loop-ops state dir emptied; the vault
 * is kept). Takes ~3 s. Call it before a destructive scenario.
 */
export function resetSandbox(sandbox: SandboxFacts): void {
  execFileSync('bash', [sandbox.sandboxScript, 'reset'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
}

/**
 * Pushes a new commit to the checkout's origin (as the NAS user), writing each file with the
 * given content plus a newline, e.g. { VERSION: '1.1.0', MODE: 'fail' }. MODE is ok | fail |
 * slow:N. Returns the new commit's sha. The checkout itself is not touched (deploy pulls it).
 */
export function commitToOrigin(sandbox: SandboxFacts, files: Record<string, string>, message = 'test commit'): string {
  const args = [sandbox.sandboxScript, 'commit', '-m', message, ...Object.entries(files).map(([k, v]) => `${k}=${v}`)];
  return execFileSync('bash', args, { encoding: 'utf8', timeout: 60_000 }).trim();
}

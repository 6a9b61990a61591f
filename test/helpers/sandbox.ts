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
  /** .sandbox/config.yaml: the server's config for the sandbox, in the targets format (prod and staging, loop-api and loop-auth on each). */
  configPath: string;
  /** .sandbox/config-single.yaml: prod alone in the single-NAS format (top-level nas/app/nginx/state); same state dir as prod's loop-api. */
  configSinglePath: string;
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
  /** prod's loop-auth (see targets.prod.apps['loop-auth'] for the rest). */
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
  /** Per sandbox host, as in the targets config: prod and staging (its own network namespace). */
  targets: Record<SandboxTargetName, SandboxTarget>;
  /** The host the one-host fields above describe: this file's lane (prod unless the lane is staging). */
  lane: SandboxTargetName;
}

/**
 * The facts as a one-host test sees them: the top-level fields (ssh, app,
 * nginx, front, state, single-NAS config) describe the lane's host. prod's are
 * what sandbox.json holds; staging's come from its `targets` entry.
 */
export function laneFacts(facts: SandboxFacts, lane: SandboxTargetName): SandboxFacts {
  if (lane === 'prod') return { ...facts, lane };
  const t = facts.targets[lane];
  const api = t.apps['loop-api'];
  const auth = t.apps['loop-auth'];
  return {
    ...facts,
    lane,
    rootDir: t.rootDir,
    volume1: t.volume1,
    configSinglePath: t.configSinglePath,
    scopedSudoers: t.scopedSudoers,
    sshdConfig: t.sshdConfig,
    sshdPidFile: t.sshdPidFile,
    ssh: t.ssh,
    dockerBinary: t.dockerBinary,
    app: {
      ...facts.app,
      checkoutDir: api.checkoutDir,
      originRepo: api.originRepo,
      branch: api.branch,
      initialCommit: api.initialCommit,
      initialVersion: api.initialVersion,
      initialImage: api.initialImage,
      vaultDir: api.vaultDir,
      oauthKeysDir: `${api.vaultDir}/oauth-keys`,
      dbPath: `${api.vaultDir}/loop.db`,
      network: api.network,
      containerPort: api.containerPort,
      colorPorts: api.colorPorts,
      containers: api.containers,
    },
    auth: { container: auth.container, image: auth.initialImage, hostPort: auth.hostPort },
    stateDir: api.stateDir,
    nginx: t.nginx,
    frontUrl: t.frontUrl,
    publicHealthUrl: api.publicHealthUrl,
    logDir: t.logDir,
  };
}

export { sandboxLane, type SandboxTargetName } from './lane.js';
import { sandboxLane, type SandboxTargetName } from './lane.js';

/** One sandbox host: its own sshd (host key), dockerd, nginx front and app checkouts. */
export interface SandboxTarget {
  rootDir: string;
  volume1: string;
  /** null for prod (this machine's loopback); staging lives in a network namespace reached over a veth pair. */
  netns: { name: string; hostInterface: string; hostAddress: string; address: string } | null;
  ssh: SandboxFacts['ssh'];
  sshdConfig: string;
  sshdPidFile: string;
  /** The sudoers file of the scoped user for this host (`loop-ops-mcp sudoers --target`). */
  scopedSudoers: string;
  /** What the product runs (staging: a root-owned wrapper around /usr/bin/docker for its own daemon). */
  dockerBinary: string;
  dockerSocket: string;
  /** The target's state.dir (each app's state defaults to <stateDir>/<app>). */
  stateDir: string;
  /** This host's loop-api alone in the single-NAS format. */
  configSinglePath: string;
  nginx: SandboxFacts['nginx'];
  /** The nginx front, as reached from this machine (tests). */
  frontUrl: string;
  logDir: string;
  apps: { 'loop-api': SandboxBlueGreenApp; 'loop-auth': SandboxRecreateApp };
}

export interface SandboxAppCheckout {
  checkoutDir: string;
  /** Bare repo the checkout tracks: `sandbox.sh commit --target T --app A FILE=CONTENT…` pushes to it. */
  originRepo: string;
  branch: string;
  initialCommit: string;
  initialVersion: string;
  /** The image `up`/`reset` runs the app from (built from initialCommit). */
  initialImage: string;
  network: string;
  /** This app's loop-ops-mcp state (lock, journal, history). */
  stateDir: string;
}

export interface SandboxBlueGreenApp extends SandboxAppCheckout {
  strategy: 'blue-green';
  frontUrl: string;
  publicHealthUrl: string;
  vaultDir: string;
  containerPort: number;
  colorPorts: { blue: number; green: number };
  containers: { blue: string; green: string };
  upstreamFile: string;
}

export interface SandboxRecreateApp extends SandboxAppCheckout {
  strategy: 'recreate';
  container: string;
  /** Published on 127.0.0.1 of its host (for staging: inside its namespace, so reach it over SSH). */
  hostPort: number;
  containerPort: number;
  /** http://127.0.0.1:<hostPort>/health as seen from the host itself. */
  healthUrlOnHost: string;
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
  const facts = inject('sandbox');
  return facts ? laneFacts(facts, sandboxLane()) : null;
}

/** Why the sandbox is unavailable ('' when it is available). */
export function sandboxSkipReason(): string {
  return inject('sandboxSkipReason') ?? '';
}

/**
 * Puts the sandbox apps back to their initial state on every host, or on `target` only (fresh
 * loop-api-blue and loop-auth from their initial images, checkouts and origins at the initial
 * commits, nginx on blue, loop-ops state dirs emptied; the vault is kept). Takes a few seconds
 * per host. Call it before a destructive scenario.
 */
export function resetSandbox(sandbox: SandboxFacts, target?: SandboxTargetName): void {
  const args = [sandbox.sandboxScript, 'reset', ...(target ? ['--target', target] : [])];
  execFileSync('bash', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000 });
}

/**
 * Pushes a new commit to an app's origin (as the NAS user; the lane's loop-api unless `where` says
 * otherwise), writing each file with the given content plus a newline, e.g. { VERSION: '1.1.0',
 * MODE: 'fail' }. MODE is ok | fail | slow:N (both apps). Returns the new commit's sha. The
 * checkout itself is not touched (deploy pulls it).
 */
export function commitToOrigin(
  sandbox: SandboxFacts,
  files: Record<string, string>,
  message = 'test commit',
  where: { target?: SandboxTargetName; app?: 'loop-api' | 'loop-auth' } = {},
): string {
  const args = [
    sandbox.sandboxScript,
    'commit',
    '--target',
    where.target ?? sandbox.lane,
    ...(where.app ? ['--app', where.app] : []),
    '-m',
    message,
    ...Object.entries(files).map(([k, v]) => `${k}=${v}`),
  ];
  return execFileSync('bash', args, { encoding: 'utf8', timeout: 60_000 }).trim();
}

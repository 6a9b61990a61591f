/**
 * Every remote command the blue-green operations run, as data: small pure
 * functions take paths and names and return the exact argv (and whether it
 * runs through sudo). The operations execute these objects and their dry
 * runs print them, so a plan can never drift from what really runs.
 *
 * Rules: plain argv wherever the job allows it (a `/bin/sh -c` script only
 * where an atomic compare-then-act on the NAS needs one, and then with a
 * fixed script and every value passed as a positional argument); every
 * command that needs root is built here (`sudo: true`), nowhere else.
 */
import { posix } from 'node:path';
import { buildImageArgv } from '../docker/requests.js';
import type { RootPrograms } from '../ssh/root-commands.js';
import { assertStateDir, lockDetailsFile, lockDir, previousStopFile } from '../domain/index.js';

export interface RemoteCommand {
  argv: string[];
  /** Run through sudo (the configured sudo mode). */
  sudo: boolean;
  /** Bound for the command. */
  timeoutMs: number;
}

const cmd = (argv: string[], sudo = false, timeoutMs = 15_000): RemoteCommand => ({ argv, sudo, timeoutMs });

/** How a command reads in a plan or a log line: argv joined, values with spaces or quotes JSON-quoted. */
export function showCommand(c: RemoteCommand): string {
  const words = c.argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : JSON.stringify(a)));
  return `${c.sudo ? 'sudo ' : ''}${words.join(' ')}`;
}

// ---------------------------------------------------------------- source

/** A git ref a caller may name: letters, digits, . _ / - (not starting with -). */
export const GIT_REF_RE = /^(?!-)[A-Za-z0-9._/-]{1,100}$/;

const git = (checkoutDir: string, args: string[], timeoutMs: number) => cmd(['git', '-C', checkoutDir, ...args], false, timeoutMs);

export const gitFetch = (checkoutDir: string) => git(checkoutDir, ['fetch', '--prune', 'origin'], 120_000);
export function gitCheckout(checkoutDir: string, ref: string): RemoteCommand {
  if (!GIT_REF_RE.test(ref)) throw new Error(`invalid git ref ${JSON.stringify(ref.slice(0, 40))}`);
  return git(checkoutDir, ['checkout', '--detach', ref], 60_000);
}
export const gitPull = (checkoutDir: string) => git(checkoutDir, ['pull', '--ff-only'], 120_000);
export const gitHead = (checkoutDir: string) => git(checkoutDir, ['rev-parse', 'HEAD'], 15_000);
export const gitDescribe = (checkoutDir: string) => git(checkoutDir, ['describe', '--always', '--tags'], 15_000);
export const readVersionFile = (checkoutDir: string) => cmd(['cat', '--', posix.join(checkoutDir, 'VERSION')]);

/** `docker build` of the checkout (the Docker binary runs through sudo when the config says so). */
export function dockerBuild(
  dockerBinary: string,
  sudo: boolean,
  o: { contextDir: string; tag: string; labels?: Record<string, string> },
  timeoutMs: number,
): RemoteCommand {
  return cmd(buildImageArgv(dockerBinary, o), sudo, timeoutMs);
}

// ---------------------------------------------------------------- nginx

export const nginxTest = (argv: readonly string[], useSudo: boolean) => cmd([...argv], useSudo, 30_000);
export const nginxReload = (argv: readonly string[], useSudo: boolean) => cmd([...argv], useSudo, 30_000);
/** `rm -f` of one file (the upstream file when restoring "no file"; root when the SSH user may not write there). */
/** `rm -f`; as root (an absolute program from sudo.programs) when `root` is given. */
export const removeFile = (root: RootPrograms | undefined, path: string) => cmd([root ? root.rm : 'rm', '-f', '--', path], root !== undefined, 15_000);

// ---------------------------------------------------------------- OAuth keys and DB (root: the vault is the app's)

/** Names of backup directories under <vault>/backups: what reset and restore create, and all restore accepts. */
export const OAUTH_BACKUP_NAME_RE = /^oauth-(?:reset|restore)-\d{8}T\d{6}Z?(?:-[0-9a-f]{4})?$/;

export function assertBackupName(name: string): string {
  if (!OAUTH_BACKUP_NAME_RE.test(name)) throw new Error(`not a backup name: ${JSON.stringify(name.slice(0, 80))} (expected e.g. oauth-reset-20261121T101112Z)`);
  return name;
}

export const backupsRoot = (vaultPath: string) => posix.join(vaultPath, 'backups');
export const backupDir = (vaultPath: string, name: string) => posix.join(backupsRoot(vaultPath), assertBackupName(name));

// Each of these runs as root, as one program from sudo.programs (absolute: sudoers matches it),
// and is on the root command list (src/ssh/root-commands.ts) for these exact paths.
export const makeDir = (p: RootPrograms, dir: string) => cmd([p.mkdir, '-p', '--', dir], true);
/** Exit 0 if the path exists (file or directory). */
export const pathExists = (p: RootPrograms, path: string) => cmd([p.test, '-e', path], true);
/** Moves `path` into `dir` (same filesystem: a rename; nothing is deleted). */
export const moveInto = (p: RootPrograms, path: string, dir: string) => cmd([p.mv, '--', path, `${dir.replace(/\/+$/, '')}/`], true, 60_000);
/** Copies byte for byte, keeping modes, owners and times (`cp -a`): the restore. */
export const copyExact = (p: RootPrograms, from: string, to: string) => cmd([p.cp, '-a', '--', from, to], true, 120_000);
/** The backup names, one a line (`ls -1`); a missing directory exits non-zero. Read as the SSH user first (status), through sudo if refused. */
export const listDir = (p: RootPrograms, dir: string, sudo = false) => cmd([sudo ? p.ls : 'ls', '-1', '--', dir], sudo);

// ---------------------------------------------------------------- the lock (the SSH user's own state dir: no root)

/** Exit codes of the lock scripts. */
export const LOCK_EXIT = { stateDir: 2, held: 3, free: 3, notOurs: 4 } as const;

/** `mkdir -p <stateDir>` (exit 2 if impossible), then the atomic `mkdir <stateDir>/lock` (exit 3 if it exists). */
export function mkdirLock(stateDir: string): RemoteCommand {
  const dir = assertStateDir(stateDir);
  return cmd([
    '/bin/sh',
    '-c',
    `mkdir -p -- "$1" || exit ${LOCK_EXIT.stateDir}; mkdir -- "$2" 2>/dev/null && exit 0; [ -e "$2" ] && exit ${LOCK_EXIT.held}; mkdir -- "$2"`,
    'sh',
    dir,
    lockDir(dir),
  ]);
}

/** Unconditional removal of the lock: only to undo our own half-taken lock (mkdir done, details not written). */
export const removeLock = (stateDir: string) => cmd(['rm', '-rf', '--', lockDir(assertStateDir(stateDir))]);

/**
 * Compare-and-delete: removes the lock only if lock/details.json still holds
 * exactly `expected`. The lock dir is first renamed to a unique name (atomic:
 * from then on nobody else can change or take it), then compared there; a
 * lock that changed in between is put back. Exit 3: no lock; 4: not the one.
 */
export function removeLockIf(stateDir: string, expected: string, nonce: string): RemoteCommand {
  const dir = assertStateDir(stateDir);
  if (!/^[A-Za-z0-9-]{1,64}$/.test(nonce)) throw new Error('nonce must be letters, digits and -');
  return cmd([
    '/bin/sh',
    '-c',
    [
      `[ -d "$1" ] || exit ${LOCK_EXIT.free}`,
      `[ "$(cat -- "$2" 2>/dev/null)" = "$3" ] || exit ${LOCK_EXIT.notOurs}`,
      `mv -- "$1" "$4" || exit ${LOCK_EXIT.notOurs}`,
      `if [ "$(cat -- "$4/details.json" 2>/dev/null)" = "$3" ]; then rm -rf -- "$4"; exit 0; fi`,
      `mv -- "$4" "$1"; exit ${LOCK_EXIT.notOurs}`,
    ].join('\n'),
    'sh',
    lockDir(dir),
    lockDetailsFile(dir),
    expected.replace(/\n+$/, ''),
    `${lockDir(dir)}.released-${nonce}`,
  ]);
}

/**
 * Compare-and-swap of lock/details.json: replaces it with `next` (temp file +
 * rename) only if it still holds exactly `expected`. The heartbeat (a holder
 * refreshing its own lock) and recover's take-over of a stale lock are both
 * this. Exit 3: no lock; 4: someone else's now.
 */
export function replaceLockDetailsIf(stateDir: string, expected: string, next: string): RemoteCommand {
  const dir = assertStateDir(stateDir);
  return cmd([
    '/bin/sh',
    '-c',
    [
      `[ -d "$1" ] || exit ${LOCK_EXIT.free}`,
      `[ "$(cat -- "$2" 2>/dev/null)" = "$3" ] || exit ${LOCK_EXIT.notOurs}`,
      `t="$2.beat-$$"`,
      `printf '%s\\n' "$4" > "$t" && mv -f -- "$t" "$2" || { rm -f -- "$t"; exit 1; }`,
    ].join('\n'),
    'sh',
    lockDir(dir),
    lockDetailsFile(dir),
    expected.replace(/\n+$/, ''),
    next.replace(/\n+$/, ''),
  ]);
}

/**
 * The lock details' age by the NAS's own clock: prints `<mtime> <now>` in
 * epoch seconds. Heartbeats come from different machines (a server, a
 * laptop); only the NAS's clock is common to all of them.
 */
export function lockAge(stateDir: string): RemoteCommand {
  const dir = assertStateDir(stateDir);
  // A lock without details (its taker died between mkdir and write) ages by its directory.
  return cmd(['/bin/sh', '-c', 'm=$(stat -c %Y -- "$1" 2>/dev/null || stat -c %Y -- "$2") || exit 3; printf "%s %s\\n" "$m" "$(date +%s)"', 'sh', lockDetailsFile(dir), lockDir(dir)]);
}

/** `mkdir -p <stateDir>`, for writers that may come before any lock (journal, history). */
export const ensureStateDir = (stateDir: string) => cmd(['mkdir', '-p', '--', assertStateDir(stateDir)]);

/** Forgets the scheduled stop of the previous color (deploy.keepPrevious). */
export const removePreviousStop = (stateDir: string) => cmd(['rm', '-f', '--', previousStopFile(stateDir)]);

/**
 * Everything loop-ops-mcp runs as root on the NAS, in one list.
 *
 * Each entry is an absolute program and its arguments in sudoers' own pattern
 * syntax (fnmatch per sudoers(5): one string of space-joined words, `*` may
 * cross words). The same list is
 *   - checked by the SSH pool before any command goes through sudo (a root
 *     command that is not listed never leaves this process), and
 *   - printed as sudoers lines by `loop-ops-mcp sudoers`,
 * so the code and the NAS's sudoers file cannot drift apart.
 *
 * Rules never put `*` in front of a program or a path: `*` matches across
 * words, so `timeout * /usr/bin/docker` would allow `timeout 5 /bin/sh -c …`.
 * Remote time limits are therefore written as five zero-padded digits
 * (`[0-9][0-9][0-9][0-9][0-9]`), a pid-like field sudoers can match exactly.
 * The only `*` is after `docker build`, whose arguments go to Docker, not to
 * a shell (and Docker itself is root-equivalent: see README).
 */
import { posix } from 'node:path';
import type { Config } from '../config.js';

/** Seconds between the remote `timeout`'s TERM and its KILL. */
export const TIMEOUT_KILL_AFTER_SEC = 2;
/** Width of the zero-padded duration handed to `timeout` under sudo. */
export const TIMEOUT_DIGITS = 5;
/** The longest remote bound expressible in TIMEOUT_DIGITS digits. */
export const MAX_ROOT_TIMEOUT_SEC = 10 ** TIMEOUT_DIGITS - 1;

export interface RootRule {
  /** Stable name (tests, messages). */
  id: string;
  /** One line for the sudoers comment: why we need it. */
  why: string;
  /** Absolute path of the program sudo runs. */
  program: string;
  /** Argument words in sudoers/fnmatch syntax (already escaped). Empty: no arguments at all. */
  args: string[];
}

/** A config value that cannot be written as an exact sudoers word. */
export class UnscopablePathError extends Error {
  constructor(what: string, value: string) {
    super(
      `${what} ${JSON.stringify(value)} cannot be matched exactly by sudoers: use only letters, digits and _ . / @ % + ~ , : = -`,
    );
    this.name = 'UnscopablePathError';
  }
}

const LITERAL_RE = /^[A-Za-z0-9_./@%+~,:=-]+$/;

/** One literal word for sudoers: characters sudoers treats specially are escaped; anything a glob could read is refused. */
export function lit(value: string, what = 'argument'): string {
  if (!LITERAL_RE.test(value)) throw new UnscopablePathError(what, value);
  return value.replace(/[,:=]/g, (c) => `\\${c}`);
}

/** Any text as a pattern matching only itself (for rules outside the product: tests, benchmarks). */
export function globLiteral(value: string): string {
  return value.replace(/[\\*?[\],:=]/g, (c) => `\\${c}`);
}

function absProgram(value: string, what: string): string {
  if (!value.startsWith('/')) throw new UnscopablePathError(`${what} (must be an absolute path)`, value);
  lit(value, what);
  return value;
}

/** `[0-9]` × n: exactly n digits, no `*`. */
const digits = (n: number) => '[0-9]'.repeat(n);

/** The UTC stamp in OAuth backup names (oauth-reset-YYYYMMDDTHHMMSS, see bluegreen/operations/oauth-files.ts). */
export const BACKUP_STAMP_GLOB = `${digits(8)}T${digits(6)}`;
/** The kinds of OAuth backup directories we create. */
export const BACKUP_KINDS = ['reset', 'restore'] as const;

/** Absolute paths of the plain programs run as root (Synology and Debian both have them there). */
export interface RootPrograms {
  timeout: string;
  mkdir: string;
  mv: string;
  rm: string;
  cat: string;
  tee: string;
  chmod: string;
  test: string;
  ls: string;
  cp: string;
}

/** The fixed temp file beside a root-owned file we replace (the deploy lock keeps writers apart). */
export function rootTempPath(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.loop-ops-tmp`);
}

/**
 * The argv builders of the SSH layer's root commands (without the `timeout`
 * prefix, which the pool adds); the OAuth file moves are built in
 * bluegreen/commands.ts. Each one matches a rule of `rootRules` for the same
 * config; test/unit/ssh/root-commands.test.ts checks that for all of them.
 */
export function rootArgv(config: Pick<Config, 'docker' | 'nginx' | 'app' | 'sudo'>) {
  const p = config.sudo.programs;
  const upstream = config.nginx.upstreamFile;
  const tmp = rootTempPath(upstream);
  return {
    /** The Docker Engine API over stdio (long-lived, no time limit). */
    dockerApi: (): string[] => [config.docker.binary, 'system', 'dial-stdio'],
    nginxTest: (): string[] => [...config.nginx.testCommand],
    nginxReload: (): string[] => [...config.nginx.reloadCommand],
    /** Root-owned upstream file (only when the SSH user may not read/write it). */
    upstreamRead: (): string[] => [p.cat, '--', upstream],
    upstreamWriteTemp: (): string[] => [p.tee, '--', tmp],
    upstreamModeTemp: (): string[] => [p.chmod, '644', '--', tmp],
    upstreamReplace: (): string[] => [p.mv, '-f', '--', tmp, upstream],
    upstreamDiscardTemp: (): string[] => [p.rm, '-f', '--', tmp],
    upstreamRemove: (): string[] => [p.rm, '-f', '--', upstream],
    upstreamTempPath: tmp,
  };
}

/** Every rule for this config. `timed` rules carry the `timeout -k 2 NNNNN` prefix the pool adds. */
/** `timeout -k 2 NNNNN argv` rules: what the pool sends for a time-limited root command. */
function timedRule(p: RootPrograms) {
  const timeout = absProgram(p.timeout, 'sudo.programs.timeout');
  return (id: string, why: string, argv: string[], argPatterns?: string[]): RootRule => {
    const [program, ...args] = argv;
    absProgram(program!, `program of ${id}`);
    const words = argPatterns ?? args.map((a) => lit(a, `argument of ${id}`));
    return { id, why, program: timeout, args: ['-k', String(TIMEOUT_KILL_AFTER_SEC), digits(TIMEOUT_DIGITS), program!, ...words] };
  };
}

/** What every app needs as root, whatever its strategy: the Engine API and image builds. */
export function dockerRootRules(config: Pick<Config, 'docker' | 'sudo'>): RootRule[] {
  const docker = absProgram(config.docker.binary, 'docker.binary');
  return [
    {
      id: 'docker-api',
      why: 'Docker Engine API over stdio (status, logs, start/stop, create): what `docker -H ssh://` runs',
      program: docker,
      args: ['system', 'dial-stdio'],
    },
    timedRule(config.sudo.programs)('docker-build', 'build the new image from the checkout (arguments go to Docker)', [docker], ['build', '*']),
  ];
}

/**
 * The rules of every app of one target (one SSH user, one sudoers file):
 * each command once; with several apps, app-specific ids carry the app's name.
 */
export function targetRootRules(apps: ReadonlyArray<{ name: string; strategy: string; config: Pick<Config, 'docker' | 'sudo'> }>): RootRule[] {
  const out: RootRule[] = [];
  const seen = new Set<string>();
  for (const a of apps) {
    const rules = a.strategy === 'blue-green' ? rootRules(a.config as Pick<Config, 'docker' | 'nginx' | 'app' | 'sudo'>) : dockerRootRules(a.config);
    for (const r of rules) {
      const key = [r.program, ...r.args].join('\0');
      if (seen.has(key)) continue;
      seen.add(key);
      const shared = r.id === 'docker-api' || r.id === 'docker-build';
      out.push(apps.length > 1 && !shared ? { ...r, id: `${a.name}/${r.id}` } : r);
    }
  }
  return out;
}

export function rootRules(config: Pick<Config, 'docker' | 'nginx' | 'app' | 'sudo'>): RootRule[] {
  const p = config.sudo.programs;
  const timed = timedRule(p);
  const upstream = config.nginx.upstreamFile;
  const tmp = rootTempPath(upstream);
  const backups = lit(posix.join(config.app.vaultPath, 'backups'), 'app.vaultPath');
  const livePaths = [config.app.oauthKeysDir, config.app.dbPath];
  const live = livePaths.map((x) => lit(x, 'app.oauthKeysDir / app.dbPath'));
  lit(upstream, 'nginx.upstreamFile');

  const rules: RootRule[] = dockerRootRules(config);
  if (config.nginx.useSudo) {
    rules.push(timed('nginx-test', 'test the nginx configuration after the upstream switch', [...config.nginx.testCommand]));
    rules.push(timed('nginx-reload', 'reload nginx so it routes to the new color', [...config.nginx.reloadCommand]));
  }
  rules.push(
    timed('upstream-read', 'read the upstream file when the SSH user may not', [p.cat, '--', upstream]),
    timed('upstream-write-temp', 'write the new upstream beside the old one (stdin)', [p.tee, '--', tmp]),
    timed('upstream-mode-temp', 'make it readable', [p.chmod, '644', '--', tmp]),
    timed('upstream-replace', 'put it in place by rename (atomic)', [p.mv, '-f', '--', tmp, upstream]),
    timed('upstream-discard-temp', 'clean up after a failed write', [p.rm, '-f', '--', tmp]),
    timed('upstream-remove', 'restore "no upstream file" after a failed first switch', [p.rm, '-f', '--', upstream]),
  );
  // OAuth keys and DB (reset_oauth, restore_oauth): the vault is the app's (root), backups are never deleted.
  rules.push(timed('oauth-list-backups', 'list the OAuth backups', [p.ls, '-1', '--', posix.join(config.app.vaultPath, 'backups')]));
  for (const [i, path] of live.entries()) {
    rules.push(timed(`oauth-exists-${i}`, `does ${livePaths[i]} exist (to move it only if so)`, [p.test], ['-e', path]));
  }
  for (const kind of BACKUP_KINDS) {
    const dir = `${backups}/oauth-${kind}-${BACKUP_STAMP_GLOB}`;
    rules.push(timed(`oauth-${kind}-mkdir`, `create a new oauth-${kind}-<UTC time> backup dir`, [p.mkdir], ['-p', '--', dir]));
    for (const [i, path] of live.entries()) {
      const inBackup = `${dir}/${lit(posix.basename(livePaths[i]!))}`;
      rules.push(
        timed(`oauth-${kind}-move-${i}`, `move ${livePaths[i]} into such a backup (a rename: nothing is deleted)`, [p.mv], ['--', path, `${dir}/`]),
        timed(`oauth-${kind}-exists-${i}`, 'is it in the backup', [p.test], ['-e', inBackup]),
        timed(`oauth-${kind}-copy-${i}`, `restore it from the backup (cp -a: modes, owners, times)`, [p.cp], ['-a', '--', inBackup, path]),
      );
    }
  }
  return rules;
}

// ---------------------------------------------------------------- matching

/** fnmatch(3) without FNM_PATHNAME, as sudoers applies it to the argument string. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]!);
    } else if (c === '*') {
      re += '[\\s\\S]*';
    } else if (c === '?') {
      re += '[\\s\\S]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('!') || body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (x) => `\\${x}`)}]`;
      i = end;
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/-]/g, (x) => `\\${x}`);

/** Whether sudo would run argv under this rule (same program path; arguments fnmatch'ed as one string). */
export function ruleMatches(rule: RootRule, argv: readonly string[]): boolean {
  if (argv[0] !== rule.program) return false;
  const args = argv.slice(1);
  if (rule.args.length === 0) return args.length === 0;
  return globToRegExp(rule.args.join(' ')).test(args.join(' '));
}

/** The checked list the pool consults before anything runs as root. */
export class RootPolicy {
  private readonly compiled: Array<{ rule: RootRule; re: RegExp | undefined }>;
  constructor(
    readonly rules: readonly RootRule[],
    /** Absolute paths of the plain programs (`timeout` goes in front of time-limited root commands). */
    readonly programs: RootPrograms,
  ) {
    this.compiled = rules.map((rule) => ({ rule, re: rule.args.length ? globToRegExp(rule.args.join(' ')) : undefined }));
  }

  /** The rule that allows this exact root argv, or undefined. */
  match(argv: readonly string[]): RootRule | undefined {
    for (const { rule, re } of this.compiled) {
      if (argv[0] !== rule.program) continue;
      const args = argv.slice(1);
      if (re ? re.test(args.join(' ')) : args.length === 0) return rule;
    }
    return undefined;
  }

  /** `timeout -k 2 NNNNN argv` for a bound in seconds (0: argv as it is). */
  withTimeout(argv: readonly string[], timeoutSec: number): string[] {
    if (timeoutSec <= 0) return [...argv];
    const sec = Math.min(MAX_ROOT_TIMEOUT_SEC, Math.max(1, Math.ceil(timeoutSec)));
    return [this.programs.timeout, '-k', String(TIMEOUT_KILL_AFTER_SEC), String(sec).padStart(TIMEOUT_DIGITS, '0'), ...argv];
  }
}

export function rootPolicyFor(config: Pick<Config, 'docker' | 'nginx' | 'app' | 'sudo'>, extra: RootRule[] = []): RootPolicy {
  return new RootPolicy([...rootRules(config), ...extra], config.sudo.programs);
}

// ---------------------------------------------------------------- sudoers

export interface SudoersOptions {
  user: string;
  mode: 'password' | 'nopasswd';
  version: string;
  /** Where the file came from, for the header (e.g. the config path). */
  source?: string;
}

const USER_RE = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** The sudoers file for these rules: a header that says what it is, then one commented line per rule. */
export function renderSudoers(rules: readonly RootRule[], opts: SudoersOptions): string {
  if (!USER_RE.test(opts.user)) throw new Error(`not a plain user name: ${JSON.stringify(opts.user)}`);
  const tag = opts.mode === 'nopasswd' ? 'NOPASSWD: ' : '';
  const out = [
    `# loop-ops-mcp ${opts.version}: what ${opts.user} may run as root on this NAS, and nothing else.`,
    `# Generated by \`loop-ops-mcp sudoers\`${opts.source ? ` from ${opts.source}` : ''}; the server checks every root`,
    '# command against the same list before sending it. Regenerate after changing docker.binary,',
    '# nginx.*, app.* paths or sudo.programs. Install on the NAS as root:',
    '#   visudo -cf loop-ops.sudoers && install -m 0440 -o root -g root loop-ops.sudoers /etc/sudoers.d/loop-ops',
    '# No shell runs as root: each line is one program with its exact arguments. Time limits are',
    `# five digits ([0-9]…) so no pattern needs '*' before a program. Docker's API is root-equivalent`,
    '# by nature: anyone who may use it owns the NAS; these rules take away the root shell, not that.',
    opts.mode === 'password'
      ? '# sudo.mode password: sudo asks for the password (written to its stdin, never on a command line).'
      : '# sudo.mode nopasswd: no password asked for these commands only.',
    '',
  ];
  for (const r of rules) {
    out.push(`# ${r.id}: ${r.why}`);
    out.push(`${opts.user} ALL=(root) ${tag}${r.program} ${r.args.length ? r.args.join(' ') : '""'}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Switching traffic between colors by rewriting nginx's upstream include:
 *
 *   render → skip if it already routes to the target → keep the current file
 *   as <stateDir>/upstream.prev → put the new one in place by rename →
 *   `nginx -t` → on failure put the old one back → reload → read back.
 *
 * A reload drains the old workers gracefully. The file is written over SFTP
 * when the SSH user may write it, else through sudo (detected on the first
 * "permission denied" and remembered per path).
 */
import { posix } from 'node:path';
import type { Config } from '../config.js';
import type { ArmedExec, ExecResult, SshPool } from '../ssh/pool.js';
import { readFileIfExists, readProcFiles, readSmallFiles, writeFileAtomic } from '../ssh/files.js';
import { ensureStateDir, nginxReload, nginxTest, removeFile, type RemoteCommand } from './commands.js';
import { assertStateDir, parseUpstream, renderUpstream, upstreamPrevFile, type Color, type UpstreamInfo } from '../domain/index.js';

/** What nginx printed, cut to this many characters for messages. */
export const NGINX_OUTPUT_MAX = 1024;
const UPSTREAM_MAX_BYTES = 64 * 1024;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;
/** Same alphabet parseUpstream accepts for the header's deployment id (and no newline can enter the file). */
const DEPLOYMENT_ID_RE = /^[A-Za-z0-9_.:-]{1,128}$/;

export type SwitchStage = 'write' | 'test' | 'reload' | 'verify';

/** A switch that did not happen; says what was done about it. */
export class UpstreamSwitchError extends Error {
  readonly hint: string;
  constructor(
    message: string,
    readonly stage: SwitchStage,
    /** The (trimmed) output of nginx -t / reload, if any. */
    readonly output: string,
    /** The previous file is back in place (and, after a failed reload, loaded again). */
    readonly restored: boolean,
    hint: string,
  ) {
    super(message);
    this.name = 'UpstreamSwitchError';
    this.hint = hint;
  }
}

/** Trims nginx output to ≤ NGINX_OUTPUT_MAX characters, one message. */
export function trimNginxOutput(text: string): string {
  const t = text.replace(/\r/g, '').trim();
  return t.length <= NGINX_OUTPUT_MAX ? t : `${t.slice(0, NGINX_OUTPUT_MAX - 1)}…`;
}

const errCode = (err: unknown): unknown => (err as { code?: unknown } | null)?.code;
const isPermissionDenied = (err: unknown) =>
  errCode(err) === SFTP_PERMISSION_DENIED || (err instanceof Error && /permission denied/i.test(err.message));

/** Paths the SSH user could not write over SFTP: written through sudo from then on. */
const needsSudo = new Set<string>();

async function readRemote(pool: SshPool, path: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const [text] = await readSmallFiles(pool, [{ path, maxBytes: UPSTREAM_MAX_BYTES }], signal);
    return text;
  } catch (err) {
    if (!isPermissionDenied(err)) throw err;
    return readFileIfExists(pool, path, { sudo: true, signal });
  }
}

/** Writes the upstream file atomically; plain SFTP first, sudo when that is refused. */
async function writeUpstreamFile(pool: SshPool, path: string, content: string, signal?: AbortSignal): Promise<void> {
  if (!needsSudo.has(path)) {
    try {
      await writeFileAtomic(pool, path, content, { mode: 0o644, signal });
      return;
    } catch (err) {
      if (!isPermissionDenied(err)) throw err;
      needsSudo.add(path);
    }
  }
  await writeFileAtomic(pool, path, content, { mode: 0o644, sudo: true, signal });
}

async function removeUpstreamFile(pool: SshPool, path: string): Promise<void> {
  const c = removeFile(needsSudo.has(path) ? pool.rootPrograms : undefined, path);
  await pool.run(c.argv, { sudo: c.sudo, timeoutMs: c.timeoutMs });
}

/** The upstream file as it is on the NAS, and what it says. */
export async function readUpstream(
  pool: SshPool,
  config: Config,
  signal?: AbortSignal,
): Promise<{ text: string | undefined; info: UpstreamInfo }> {
  const text = await readRemote(pool, config.nginx.upstreamFile, signal);
  return { text, info: parseUpstream(text ?? '', config.app.colorPorts) };
}

interface NginxRun {
  ok: boolean;
  output: string;
}

async function runNginx(pool: SshPool, c: RemoteCommand): Promise<NginxRun> {
  try {
    const r = await pool.exec(c.argv, { sudo: c.sudo, timeoutMs: c.timeoutMs });
    const output = trimNginxOutput([r.stderr, r.stdout].filter((s) => s.trim()).join('\n'));
    return { ok: r.code === 0, output: output || (r.code === 0 ? '' : `exit ${r.code ?? r.signal}`) };
  } catch (err) {
    return { ok: false, output: trimNginxOutput(err instanceof Error ? err.message : String(err)) };
  }
}

const cmd = (argv: readonly string[]) => argv.join(' ');

// ---------------------------------------------------------------- cut-over
//
// `nginx -s reload` returns once the master got SIGHUP. The master then
// parses the config, forks new workers, sleeps 100 ms ("allow new processes
// to start") and only then tells the old workers to stop accepting. In that
// window new connections still reach the OLD upstream (measured on the
// sandbox: ~100-170 ms after the reload returned). We watch the workers via
// /proc (no ps dependency, no sudo) until the old ones are gone or shutting
// down. Best effort: if nginx processes cannot be seen, the cut-over time is
// unknown and we do not wait.

/**
 * Lists processes whose title starts with "nginx: " as "PID PPID TITLE" lines,
 * from /proc: one grep over every cmdline, then shell builtins only (a fork
 * per process made the earlier version cost ~40-100 ms on a busy NAS; this
 * one ~10 ms).
 */
export const NGINX_PROCS_ARGV: readonly string[] = [
  '/bin/sh',
  '-c',
  [
    `grep -a -s -o '^nginx: [[:print:]]*' /proc/[0-9]*/cmdline | while IFS= read -r l; do`,
    '  d=${l%%/cmdline:*}',
    '  t=${l#*/cmdline:}',
    '  IFS= read -r s < "$d/stat" 2>/dev/null || continue',
    '  s=${s##*) }',
    '  set -- $s',
    `  printf '%s %s %s\\n' "\${d#/proc/}" "$2" "$t"`,
    'done',
    'exit 0',
  ].join('\n'),
];

export interface NginxProc {
  pid: number;
  ppid: number;
  title: string;
}

export function parseNginxProcs(text: string): NginxProc[] {
  const out: NginxProc[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\d+) (nginx: .*)$/.exec(line.trimEnd());
    if (m) out.push({ pid: Number(m[1]), ppid: Number(m[2]), title: m[3]!.trim().replace(/\s+/g, ' ') });
  }
  return out;
}

const isAcceptingWorker = (p: NginxProc) => /^nginx: worker process$/.test(p.title);

/**
 * Given the nginx processes before a reload and now: undefined while the
 * reload has not visibly happened; else whether every old worker of the
 * reloaded master(s) stopped accepting (exited, or "is shutting down").
 */
export function oldWorkersRetired(before: NginxProc[], now: NginxProc[]): boolean | undefined {
  return everyOldWorker(before, now, (cur) => !isAcceptingWorker(cur));
}

/**
 * undefined while no master shows a worker it did not have before (not
 * reloaded yet); else whether `done` holds for every old accepting worker of
 * the reloaded master(s) still there (one gone, or adopted elsewhere, is done).
 */
function everyOldWorker(before: NginxProc[], now: NginxProc[], done: (cur: NginxProc) => boolean): boolean | undefined {
  const beforePids = new Set(before.map((p) => p.pid));
  // A master that has a worker it did not have before was reloaded.
  const reloaded = new Set(now.filter((p) => p.title.startsWith('nginx: worker process') && !beforePids.has(p.pid)).map((p) => p.ppid));
  if (reloaded.size === 0) return undefined;
  const nowByPid = new Map(now.map((p) => [p.pid, p]));
  return before
    .filter((p) => isAcceptingWorker(p) && reloaded.has(p.ppid))
    .every((p) => {
      const cur = nowByPid.get(p.pid);
      return !cur || cur.ppid !== p.ppid || done(cur);
    });
}

async function listNginxProcs(pool: SshPool): Promise<NginxProc[] | undefined> {
  try {
    const r = await pool.exec(NGINX_PROCS_ARGV, { timeoutMs: 10_000 });
    if (r.code !== 0) return undefined;
    const procs = parseNginxProcs(r.stdout);
    return procs.length > 0 ? procs : undefined;
  } catch {
    return undefined;
  }
}

const CUTOVER_MAX_WAIT_MS = 3_000;
const CUTOVER_POLL_MS = 5;
const PROC_READ_MAX = 512;

/**
 * Given the nginx processes before a reload and now: whether every old
 * worker of the reloaded master(s) has exited (a zombie's empty title counts
 * as exited): every request it had accepted was answered. Undefined while
 * the reload has not visibly happened.
 */
export function oldWorkersGone(before: NginxProc[], now: NginxProc[]): boolean | undefined {
  return everyOldWorker(before, now, (cur) => cur.title === '');
}

/**
 * Waits (≤ `maxMs`) until the old workers of the last reload have exited,
 * i.e. the requests they had accepted before they stopped accepting were
 * all answered; true when seen. Long-lived connections (streams, slow
 * downloads) can keep an old worker for long: the caller decides what a
 * false means.
 */
export async function waitOldWorkersGone(pool: SshPool, before: NginxProc[] | undefined, maxMs: number): Promise<boolean> {
  return watchOldWorkers(pool, before, oldWorkersGone, maxMs);
}

/** Waits until the old workers stopped accepting; true when seen, false when it could not be told. */
function waitCutover(pool: SshPool, before: NginxProc[] | undefined): Promise<boolean> {
  return watchOldWorkers(pool, before, oldWorkersRetired, CUTOVER_MAX_WAIT_MS);
}

async function watchOldWorkers(
  pool: SshPool,
  before: NginxProc[] | undefined,
  done: (before: NginxProc[], now: NginxProc[]) => boolean | undefined,
  maxMs: number,
): Promise<boolean> {
  if (!before) return false;
  const end = performance.now() + maxMs;
  const masters = before.filter((p) => p.title.startsWith('nginx: master process'));
  const oldWorkers = before.filter(isAcceptingWorker);
  const beforePids = new Set(before.map((p) => p.pid));
  // Through the shared SFTP session: each master's children and the old workers' titles, read
  // from /proc without starting a process on the NAS (~1-2 ms a look instead of ~10-15 ms).
  let bySftp = masters.length > 0;
  while (performance.now() < end) {
    let now: NginxProc[] | undefined;
    if (bySftp) {
      now = await lookBySftp(pool, masters, oldWorkers, beforePids).catch(() => undefined);
      // No /proc/<pid>/task/<pid>/children on this kernel (or SFTP refused): list processes instead.
      if (!now) bySftp = false;
    }
    if (!now) now = await listNginxProcs(pool);
    if (!now) return false;
    if (done(before, now) === true) return true;
    await new Promise((r) => setTimeout(r, CUTOVER_POLL_MS));
  }
  return false;
}

/**
 * The nginx processes that matter for oldWorkersRetired, read over SFTP: the
 * masters as they were, the old workers with their title now (gone: left
 * out), and the masters' new children with theirs. Undefined when a living
 * master's children cannot be read.
 */
async function lookBySftp(pool: SshPool, masters: NginxProc[], oldWorkers: NginxProc[], beforePids: Set<number>): Promise<NginxProc[] | undefined> {
  const texts = await readProcFiles(
    pool,
    [...masters.map((m) => `/proc/${m.pid}/task/${m.pid}/children`), ...oldWorkers.map((w) => `/proc/${w.pid}/cmdline`)],
    PROC_READ_MAX,
  );
  const children = texts.slice(0, masters.length);
  if (children.some((c) => c === undefined)) return undefined;
  const fresh: NginxProc[] = [];
  masters.forEach((m, i) => {
    for (const pid of (children[i] ?? '').trim().split(/\s+/).filter(Boolean).map(Number)) {
      if (Number.isInteger(pid) && !beforePids.has(pid)) fresh.push({ pid, ppid: m.pid, title: '' });
    }
  });
  const freshTitles = fresh.length ? await readProcFiles(pool, fresh.map((p) => `/proc/${p.pid}/cmdline`), PROC_READ_MAX) : [];
  const title = (raw: string | undefined) => (raw ?? '').replace(/\0+/g, ' ').trim().replace(/\s+/g, ' ');
  const now: NginxProc[] = [...masters];
  oldWorkers.forEach((w, i) => {
    const t = texts[masters.length + i];
    if (t !== undefined) now.push({ ...w, title: title(t) });
  });
  fresh.forEach((p, i) => {
    if (freshTitles[i] !== undefined) now.push({ ...p, title: title(freshTitles[i]) });
  });
  return now;
}

/**
 * `nginx -t` and the reload, prepared ahead (SshPool.arm): each has its SSH
 * channel open and, when nginx runs through sudo, sudo's password check done
 * (~55 ms a root command on the sandbox) before the switch needs it. A
 * cut-over arms them when it begins, so that check overlaps the health gate;
 * switchUpstream arms its own when given none. Nothing runs until used; what
 * is not used is cancelled (the wrapper then exits having run nothing).
 */
export interface ArmedNginx {
  test: ArmedExec;
  reload: ArmedExec;
  /** performance.now() when armed: sudo remembers a password check for minutes only (timestamp_timeout). */
  at: number;
  cancel(): void;
}

/** Older than this, prepared commands are dropped and prepared again (well inside sudo's 5-minute default). */
export const ARMED_MAX_AGE_MS = 60_000;

export function armNginx(pool: SshPool, config: Config): ArmedNginx {
  const t = nginxTest(config.nginx.testCommand, config.nginx.useSudo);
  const r = nginxReload(config.nginx.reloadCommand, config.nginx.useSudo);
  const test = pool.arm(t.argv, { sudo: t.sudo, timeoutMs: t.timeoutMs });
  const reload = pool.arm(r.argv, { sudo: r.sudo, timeoutMs: r.timeoutMs });
  return {
    test,
    reload,
    at: performance.now(),
    cancel() {
      test.cancel();
      reload.cancel();
    },
  };
}

/**
 * Runs a prepared nginx command. If the prepared one could not run at all
 * (its channel dropped, sudo forgot the password it checked), the same
 * command runs once more the ordinary way: a test or a reload is harmless
 * to repeat, and nginx's own answer is what counts.
 */
async function runArmed(pool: SshPool, a: ArmedExec, c: RemoteCommand): Promise<NginxRun> {
  let r: ExecResult;
  try {
    r = await a.run();
  } catch {
    return runNginx(pool, c);
  }
  const output = trimNginxOutput([r.stderr, r.stdout].filter((x) => x.trim()).join('\n'));
  return { ok: r.code === 0, output: output || (r.code === 0 ? '' : `exit ${r.code ?? r.signal}`) };
}

/**
 * Puts `next` in place of `prev` and makes nginx load it; on any failure puts
 * `prev` back (and reloads it, if a reload had been attempted) and throws
 * UpstreamSwitchError. Not abortable: once the file is replaced, this either
 * completes or restores. After the reload, waits (≤ 3 s) until nginx's old
 * workers stopped accepting, so new connections reach the new upstream.
 */
async function applyUpstream(
  pool: SshPool,
  config: Config,
  next: string,
  prev: string | undefined,
  what: string,
  liveDesc: string,
  t0: number,
  /** Prepared test and reload (used once, here); and the nginx processes listed before, if already asked. */
  ahead: { armed?: ArmedNginx; procsBefore?: Promise<NginxProc[] | undefined> } = {},
): Promise<{ testOutput: string; reloadMs: number; cutoverMs: number | undefined; nginxBefore: NginxProc[] | undefined }> {
  const file = config.nginx.upstreamFile;
  const armed = ahead.armed ?? armNginx(pool, config);
  const procsBeforeP = ahead.procsBefore ?? listNginxProcs(pool);
  const putBack = async (): Promise<string | undefined> => {
    try {
      if (prev === undefined) await removeUpstreamFile(pool, file);
      else await writeUpstreamFile(pool, file, prev);
      return undefined;
    } catch (err) {
      return err instanceof Error ? err.message : String(err);
    }
  };

  try {
    await writeUpstreamFile(pool, file, next);
  } catch (err) {
    armed.cancel();
    const msg = err instanceof Error ? err.message : String(err);
    // The rename is atomic: usually the old file is still there untouched. Put it back only if not.
    const onDisk = await readRemote(pool, file).then(
      (t) => ({ t }),
      () => undefined,
    );
    const restoreErr = onDisk && onDisk.t === prev ? undefined : await putBack();
    throw new UpstreamSwitchError(
      `could not write ${file} for ${what}: ${msg}${restoreErr ? `; restoring the previous file also failed: ${restoreErr}` : ''}`,
      'write',
      '',
      !restoreErr,
      `Check that the SSH user (or sudo) may write ${posix.dirname(file)}. nginx was not reloaded; traffic is unchanged (${liveDesc}).`,
    );
  }

  const [test, procsBefore] = await Promise.all([runArmed(pool, armed.test, nginxTest(config.nginx.testCommand, config.nginx.useSudo)), procsBeforeP]);
  if (!test.ok) {
    armed.reload.cancel();
    const restoreErr = await putBack();
    throw new UpstreamSwitchError(
      restoreErr
        ? `nginx rejected the configuration for ${what}, and putting the previous ${file} back FAILED (${restoreErr}); ` +
            `nginx still runs the old configuration but the file on disk is the rejected one. nginx -t said:\n${test.output}`
        : `nginx rejected the configuration for ${what}; the previous ${file} is back in place and nginx was not reloaded ` +
            `(traffic unchanged: ${liveDesc}). nginx -t said:\n${test.output}`,
      'test',
      test.output,
      !restoreErr,
      restoreErr
        ? `Put a valid upstream back by hand before anything reloads nginx, then run \`${cmd(config.nginx.testCommand)}\`.`
        : `Fix the nginx configuration on the NAS (\`${cmd(config.nginx.testCommand)}\` shows the error), then retry.`,
    );
  }

  const reload = await runArmed(pool, armed.reload, nginxReload(config.nginx.reloadCommand, config.nginx.useSudo));
  if (!reload.ok) {
    const restoreErr = await putBack();
    let reloadedOld = false;
    let retry: NginxRun | undefined;
    if (!restoreErr) {
      const t = await runNginx(pool, nginxTest(config.nginx.testCommand, config.nginx.useSudo));
      if (t.ok) {
        retry = await runNginx(pool, nginxReload(config.nginx.reloadCommand, config.nginx.useSudo));
        reloadedOld = retry.ok;
      } else retry = t;
    }
    throw new UpstreamSwitchError(
      `nginx reload failed for ${what}: ${reload.output}; ` +
        (restoreErr
          ? `putting the previous ${file} back also failed (${restoreErr})`
          : reloadedOld
            ? `the previous ${file} is back in place and loaded (${liveDesc})`
            : `the previous ${file} is back in place but reloading it failed too: ${retry?.output ?? ''}`),
      'reload',
      reload.output,
      !restoreErr && reloadedOld,
      `Check that nginx runs and that \`${cmd(config.nginx.reloadCommand)}\` works on the NAS${config.nginx.useSudo ? ' (through sudo)' : ''}; status shows which color serves.`,
    );
  }
  const reloadMs = performance.now() - t0;
  const seen = await waitCutover(pool, procsBefore);
  return { testOutput: test.output, reloadMs, cutoverMs: seen ? performance.now() - t0 : undefined, nginxBefore: procsBefore };
}

export interface SwitchResult {
  changed: boolean;
  /** The color the file routed to before (undefined: none, or not one of ours). */
  previousColor: Color | undefined;
  /** `nginx -t` output ('' when nothing changed). */
  testOutput: string;
  /** From the start of the switch to `nginx -s reload` returning (ms). */
  durationMs: number;
  /**
   * From the start of the switch to the moment nginx's old workers stopped
   * accepting connections (ms): from then on every new connection goes to
   * the target. Undefined when that could not be observed (no /proc access)
   * or nothing changed.
   */
  cutoverMs: number | undefined;
  /** nginx's processes just before the reload (for waitOldWorkersGone); undefined when not seen. */
  nginxBefore?: NginxProc[];
}

/**
 * Routes traffic to `target`. Call it holding the deploy lock. `force`
 * reloads even if the file already routes to the target (e.g. after a crash
 * between write and reload). The signal is honoured until the new file is
 * written; after that the switch completes or restores.
 */
export async function switchUpstream(
  pool: SshPool,
  config: Config,
  target: Color,
  deploymentId: string,
  opts: { signal?: AbortSignal; force?: boolean; armed?: ArmedNginx } = {},
): Promise<SwitchResult> {
  const t0 = performance.now();
  try {
    if (!DEPLOYMENT_ID_RE.test(deploymentId)) {
      throw new Error(`deployment id must match ${DEPLOYMENT_ID_RE.source}: ${JSON.stringify(deploymentId.slice(0, 140))}`);
    }
    if (target !== 'blue' && target !== 'green') throw new Error(`unknown color: ${String(target)}`);
  } catch (e) {
    opts.armed?.cancel();
    throw e;
  }
  const stateDir = assertStateDir(config.state.dir);
  // Independent reads first, together: the file in place and nginx's processes (before the reload).
  const procsBefore = listNginxProcs(pool);
  let current: string | undefined;
  let info: UpstreamInfo;
  try {
    ({ text: current, info } = await readUpstream(pool, config, opts.signal));
  } catch (e) {
    opts.armed?.cancel();
    throw e;
  }
  const liveDesc = info.color ? `on ${info.color}` : `on ${info.servers.join(', ') || 'no server'}`;

  if (info.color === target && !opts.force) {
    opts.armed?.cancel();
    return { changed: false, previousColor: info.color, testOutput: '', durationMs: performance.now() - t0, cutoverMs: undefined };
  }
  // Prepared now if the caller did not (or long ago): sudo's checks run while upstream.prev is written.
  let armed = opts.armed;
  if (armed && performance.now() - armed.at > ARMED_MAX_AGE_MS) {
    armed.cancel();
    armed = undefined;
  }
  armed ??= armNginx(pool, config);

  const next = renderUpstream({ app: config.app.name, color: target, ports: config.app.colorPorts, deploymentId, at: new Date() });
  try {
    await savePrevious(pool, stateDir, current, opts.signal);
    if (opts.signal?.aborted) throw new Error('the switch was cancelled before the upstream file was replaced; traffic is unchanged');
  } catch (e) {
    armed.cancel();
    throw e;
  }

  const what = `${target} (deployment ${deploymentId})`;
  const { testOutput, reloadMs, cutoverMs, nginxBefore } = await applyUpstream(pool, config, next, current, what, liveDesc, t0, { armed, procsBefore });

  // Someone else may have written the file meanwhile (a hand edit, another tool): read it back.
  const back = await readUpstream(pool, config);
  if (back.info.color !== target) {
    throw new UpstreamSwitchError(
      `after switching to ${target}, ${config.nginx.upstreamFile} routes to ${back.info.color ?? (back.info.servers.join(', ') || 'nothing')}: someone else changed it`,
      'verify',
      testOutput,
      false,
      'Something else writes the upstream file (another deploy tool, a hand edit). Check status before any further action.',
    );
  }
  return { changed: true, previousColor: info.color, testOutput, durationMs: reloadMs, cutoverMs, nginxBefore };
}

/** Keeps the file being replaced as <stateDir>/upstream.prev (removed if there was none). */
async function savePrevious(pool: SshPool, stateDir: string, current: string | undefined, signal?: AbortSignal): Promise<void> {
  const prevFile = upstreamPrevFile(stateDir);
  if (current === undefined) {
    await pool.run(removeFile(undefined, prevFile).argv, { timeoutMs: 15_000, signal });
    return;
  }
  try {
    await writeFileAtomic(pool, prevFile, current, { mode: 0o644, signal });
  } catch (err) {
    if (errCode(err) !== SFTP_NO_SUCH_FILE) throw err;
    await pool.run(ensureStateDir(stateDir).argv, { timeoutMs: 15_000, signal });
    await writeFileAtomic(pool, prevFile, current, { mode: 0o644, signal });
  }
}

export interface RestoreResult {
  /** The file content changed (false: it already was the saved one; nginx was still tested and reloaded). */
  changed: boolean;
  /** The color now routed to. */
  color: Color | undefined;
  /** The color routed to before the restore. */
  previousColor: Color | undefined;
  testOutput: string;
  /** Start → reload returned (ms). */
  durationMs: number;
  /** Start → old workers stopped accepting (ms); undefined if not observable. */
  cutoverMs: number | undefined;
}

/**
 * Puts <stateDir>/upstream.prev back in place, tests and reloads (recovery).
 * Idempotent: upstream.prev is kept, and a second call only reloads.
 */
export async function restorePreviousUpstream(pool: SshPool, config: Config): Promise<RestoreResult> {
  const t0 = performance.now();
  const stateDir = assertStateDir(config.state.dir);
  const [saved] = await readSmallFiles(pool, [{ path: upstreamPrevFile(stateDir), maxBytes: UPSTREAM_MAX_BYTES }]);
  if (saved === undefined) {
    const err = new Error(`no previous upstream is saved (${upstreamPrevFile(stateDir)} does not exist)`);
    Object.assign(err, { hint: 'Nothing to restore: no switch was made from this state dir. Status shows which color serves.' });
    throw err;
  }
  const { text: current, info } = await readUpstream(pool, config);
  const liveDesc = info.color ? `on ${info.color}` : `on ${info.servers.join(', ') || 'no server'}`;
  const savedInfo = parseUpstream(saved, config.app.colorPorts);
  const what = `the saved previous upstream (${savedInfo.color ?? 'unknown color'})`;
  const { testOutput, reloadMs, cutoverMs } = await applyUpstream(pool, config, saved, current, what, liveDesc, t0);
  return { changed: current !== saved, color: savedInfo.color, previousColor: info.color, testOutput, durationMs: reloadMs, cutoverMs };
}

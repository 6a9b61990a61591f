/**
 * Building the remote command line: a small wrapper shell, run as the SSH
 * user, that announces the remote PID once the command really runs; for
 * root commands it calls sudo on exactly one program argv. No shell ever runs
 * as root, so sudoers can allow exactly the programs we run (root-commands.ts).
 *
 * The protocol on stdin/stderr:
 * - password mode: `sudo -S -p <random marker> -l -- argv` checks the
 *   password AND that sudoers allows this argv. We write the password only
 *   after our marker appears on stderr. sudo caches the success for children
 *   of this wrapper shell only (sudo keys its cache on the parent process when
 *   there is no tty), so the command itself then runs with `sudo -n`, which
 *   never reads stdin;
 * - a READY marker with the PID comes next: stdin payload is written only
 *   after it, so it can only reach the command;
 * - if sudo does not prompt (NOPASSWD, cached), READY comes first and the
 *   password is never written; if sudoers does not allow the argv, a DENIED
 *   marker comes instead of READY and nothing runs.
 *
 * The PID: for a root command it is sudo's own process. sudo keeps the
 * invoking user as its real uid, so the SSH user may send it TERM, and sudo
 * relays it to the command (`timeout`, which escalates to KILL itself). No
 * kill rule in sudoers is needed.
 */
import { randomBytes } from 'node:crypto';
import { quoteArgv, shellQuote } from './quote.js';

export type SudoMode = 'none' | 'nopasswd' | 'password';

export interface Markers {
  prompt: string;
  ready: string;
  denied: string;
}

export function newMarkers(): Markers {
  const id = randomBytes(6).toString('hex');
  return { prompt: `[loop-ops:sudo:${id}]`, ready: `[loop-ops:ready:${id}]`, denied: `[loop-ops:denied:${id}]` };
}

/** Exit code of the wrapper when sudo refused the command (before it ran). */
export const SUDO_DENIED_EXIT = 125;
/** Exit code of a gated wrapper that was told not to run its command. */
export const GATE_CLOSED_EXIT = 126;
/** The line that opens a gated wrapper. */
export const GATE_OPEN_LINE = 'go';

export interface BuildOptions {
  /** Run argv through sudo (argv is then the full root argv, timeout prefix included). */
  sudo: boolean;
  sudoMode: SudoMode;
  /** Remote-side bound in seconds for user commands (`timeout` from PATH); 0 = none. Root commands carry their own. */
  timeoutSec: number;
  markers: Markers;
  /**
   * Prepared, not started: after READY the wrapper waits for the line `go`
   * on stdin before it runs the command (any other line, or EOF, and it
   * exits GATE_CLOSED_EXIT having run nothing). The connection and, for a
   * root command, sudo's password check are done ahead of time; stdin data
   * follows the `go` line and reaches the command.
   */
  gated?: boolean;
}

const announce = (m: Markers) => `printf '%s %s\\n' ${shellQuote(m.ready)} "$$" >&2`;
/** `read` takes one line, byte by byte from a pipe (POSIX), so the payload after it stays for the command. */
const gate = (o: BuildOptions) => (o.gated ? `; IFS= read -r g || exit ${GATE_CLOSED_EXIT}; [ "$g" = ${GATE_OPEN_LINE} ] || exit ${GATE_CLOSED_EXIT}` : '');
const denied = (m: Markers) => `{ printf '%s\\n' ${shellQuote(m.denied)} >&2; exit ${SUDO_DENIED_EXIT}; }`;

/**
 * The command line for one exec channel.
 *
 *   user:      /bin/sh -c 'READY $$; exec "$@"' sh [timeout -k 2 N] argv
 *   nopasswd:  /bin/sh -c 'sudo -n -l -- "$@" || DENIED; READY $$; exec sudo -n -- "$@"' sh argv
 *   password:  /bin/sh -c 'sudo -S -p P -l -- "$@" || DENIED; /bin/sh -c "READY $$; exec sudo -n -- \"$@\"" sh "$@"; exit $?' sh argv
 *
 * In password mode the command's sudo must be a child of the shell that
 * validated (sudo's cache key), hence the inner shell; `exit $?` keeps the
 * outer shell from exec'ing it in its own place.
 *
 * `gated` adds `read` of one line between READY and `exec`: the command runs
 * only once we send `go` (see BuildOptions.gated).
 */
export function buildRemoteCommand(argv: readonly string[], opts: BuildOptions): string {
  const m = opts.markers;
  if (!opts.sudo || opts.sudoMode === 'none') {
    const inner = opts.timeoutSec > 0 ? ['timeout', '-k', '2', String(opts.timeoutSec), ...argv] : [...argv];
    return quoteArgv(['/bin/sh', '-c', `${announce(m)}${gate(opts)}; exec "$@"`, 'sh', ...inner]);
  }
  if (!argv[0]?.startsWith('/')) throw new Error(`a root command needs an absolute program path: ${argv[0] ?? '(none)'}`);
  if (opts.sudoMode === 'nopasswd') {
    const script = `sudo -n -l -- "$@" >/dev/null || ${denied(m)}; ${announce(m)}${gate(opts)}; exec sudo -n -- "$@"`;
    return quoteArgv(['/bin/sh', '-c', script, 'sh', ...argv]);
  }
  const inner = `${announce(m)}${gate(opts)}; exec sudo -n -- "$@"`;
  const script = `sudo -S -p ${shellQuote(m.prompt)} -l -- "$@" >/dev/null || ${denied(m)}; /bin/sh -c ${shellQuote(inner)} sh "$@"; exit $?`;
  return quoteArgv(['/bin/sh', '-c', script, 'sh', ...argv]);
}

/**
 * Building the remote command line: optional sudo, a remote-side timeout, and
 * a tiny wrapper that announces the remote PID once the command really runs.
 *
 * Why the wrapper: in password mode `sudo -S` reads the password from the
 * channel's stdin. We write it only after sudo's own prompt (a random marker)
 * appears on stderr, and any stdin payload only after the READY marker, so
 * neither the password nor data can be read by the wrong program. If sudo
 * does not prompt (NOPASSWD, misconfiguration), READY comes first and the
 * password is never written. The PID lets us kill the remote process when a
 * call times out or is cancelled — closing a channel does not.
 */
import { randomBytes } from 'node:crypto';
import { quoteArgv, shellQuote } from './quote.js';

export type SudoMode = 'none' | 'nopasswd' | 'password';

export interface Markers {
  prompt: string;
  ready: string;
}

export function newMarkers(): Markers {
  const id = randomBytes(6).toString('hex');
  return { prompt: `[loop-ops:sudo:${id}]`, ready: `[loop-ops:ready:${id}]` };
}

export interface BuildOptions {
  sudo: boolean;
  sudoMode: SudoMode;
  /** Remote-side bound in seconds (GNU/busybox `timeout`); 0 = none. */
  timeoutSec: number;
  markers: Markers;
}

/** The wrapped argv: [sudo …] sh -c 'announce; exec "$@"' sh [timeout …] argv. */
export function buildRemoteCommand(argv: readonly string[], opts: BuildOptions): string {
  const inner = opts.timeoutSec > 0 ? ['timeout', '-k', '2', String(opts.timeoutSec), ...argv] : [...argv];
  // `$$` is the shell's PID, which `exec` hands on to the command (or timeout).
  const wrapper = ['/bin/sh', '-c', `printf '%s %s\\n' ${shellQuote(opts.markers.ready)} "$$" >&2; exec "$@"`, 'sh', ...inner];
  if (!opts.sudo || opts.sudoMode === 'none') return quoteArgv(wrapper);
  if (opts.sudoMode === 'nopasswd') return quoteArgv(['sudo', '-n', '--', ...wrapper]);
  // -k: ignore cached credentials so sudo always prompts and the protocol stays deterministic.
  return quoteArgv(['sudo', '-S', '-k', '-p', opts.markers.prompt, '--', ...wrapper]);
}

/**
 * Quoting for the remote POSIX shell. ssh's `exec` hands one string to the
 * user's login shell, so every argument is single-quoted here, in one place.
 * Model-typed text never reaches a remote shell any other way.
 */

export class UnsafeArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeArgumentError';
  }
}

/** Quotes one argument: `'…'` with each `'` written as `'\''`. */
export function shellQuote(arg: string): string {
  if (typeof arg !== 'string') throw new UnsafeArgumentError('argument must be a string');
  // A NUL byte cannot be passed through argv at all; refusing beats truncating.
  if (arg.includes('\0')) throw new UnsafeArgumentError('argument contains a NUL byte');
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg; // nothing the shell interprets
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Joins an argv into one command line for the remote shell. */
export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new UnsafeArgumentError('empty command');
  return argv.map(shellQuote).join(' ');
}

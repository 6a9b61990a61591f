/**
 * Errors of the SSH layer, each with a message an operator can act on. None
 * of them ever carries a secret: messages are built from our own words and
 * remote stderr is scrubbed by the caller's SecretScrubber before display.
 */

export class SshError extends Error {
  /** What to do about it, for tool results. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
}

/** TCP connect / handshake failed or timed out: the NAS is not reachable. */
export class NasUnreachableError extends SshError {}
/** The server's host key did not match the pinned one. Never retried. */
export class HostKeyMismatchError extends SshError {
  constructor(
    message: string,
    readonly seenFingerprint: string,
  ) {
    super(message, 'Check the NAS key on the NAS itself before changing nas.hostKeyFingerprint.');
  }
}
/** SSH authentication was refused. */
export class SshAuthError extends SshError {}
/** sudo refused (wrong password, not allowed, password required). */
export class SudoError extends SshError {}
/** A command asked to run as root that is not on the root command list: refused before sending. */
export class RootCommandNotListedError extends SshError {}
/** The connection dropped while a command was running. */
export class ConnectionLostError extends SshError {}
/** No channel became free in time. */
export class ChannelWaitTimeoutError extends SshError {}
/** The command ran past its timeout; the remote process was stopped. */
export class ExecTimeoutError extends SshError {}
/** The caller cancelled (AbortSignal); the remote process was stopped. */
export class ExecAbortedError extends SshError {}
/** The command ran and exited non-zero (from `run`, not `exec`). */
export class RemoteCommandError extends SshError {
  constructor(
    message: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

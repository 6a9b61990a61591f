/**
 * The protocol spoken on one exec channel: watch stderr for the sudo prompt
 * and the READY marker (see sudo.ts), feed the password at the right moment,
 * then capture output with a byte cap and hand lines to streaming callbacks
 * (bounded lines: see src/line-splitter.ts).
 */
import type { ClientChannel } from 'ssh2';
import { SudoError } from './errors.js';
import type { Markers } from './sudo.js';

/** Bounded capture of one output stream: keeps the head or the tail. */
export class BoundedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  total = 0;
  constructor(
    private readonly max: number,
    private readonly keep: 'head' | 'tail',
  ) {}
  push(b: Buffer): void {
    this.total += b.length;
    if (this.keep === 'head') {
      if (this.size >= this.max) return;
      const take = b.subarray(0, this.max - this.size);
      this.chunks.push(take);
      this.size += take.length;
      return;
    }
    this.chunks.push(b);
    this.size += b.length;
    while (this.size > this.max && this.chunks.length) {
      const first = this.chunks[0]!;
      const excess = this.size - this.max;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }
  get truncated(): boolean {
    return this.total > this.size;
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Output lines for the streaming callbacks: the shared bounded splitter. */
export { LineSplitter } from '../line-splitter.js';

export interface Preamble {
  /** Resolves with the remote PID when the command runs; rejects on sudo failure. */
  ready: Promise<number | undefined>;
  /** Stderr bytes that arrive after the markers were consumed. */
  onStderr(fn: (b: Buffer) => void): void;
}

/**
 * Consumes the sudo prompt / READY marker from stderr. Everything after READY
 * is passed to `onStderr`. Writes the password only in answer to our own
 * prompt, and only once: a second prompt means the password was refused.
 */
export function handlePreamble(
  channel: ClientChannel,
  /** Resolves when the channel closed (captured when it opened; see connection.ts). */
  closed: Promise<void>,
  markers: Markers,
  sudoPassword: string | undefined,
  username: string,
  /** The root program, for a refusal's message. */
  rootProgram?: string,
): Preamble {
  let buffered = '';
  let ready = false;
  let prompted = false;
  let sink: ((b: Buffer) => void) | undefined;
  const early: Buffer[] = [];
  let resolveReady!: (pid: number | undefined) => void;
  let rejectReady!: (e: Error) => void;
  const readyP = new Promise<number | undefined>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  // Avoid an unhandled rejection when nobody awaits (the exec path always does).
  readyP.catch(() => {});

  const deliver = (b: Buffer) => (sink ? sink(b) : early.push(b));

  channel.stderr.on('data', (chunk: Buffer) => {
    if (ready) return deliver(chunk);
    buffered += chunk.toString('latin1');
    for (;;) {
      const promptAt = buffered.indexOf(markers.prompt);
      const readyAt = buffered.indexOf(markers.ready);
      if (promptAt >= 0 && (readyAt < 0 || promptAt < readyAt)) {
        buffered = buffered.slice(promptAt + markers.prompt.length);
        if (prompted || sudoPassword === undefined) {
          rejectReady(
            new SudoError(
              prompted
                ? `sudo on the NAS refused the password for ${username}`
                : `sudo on the NAS asked for a password, but none is configured`,
              'Check the sudo password (LOOP_OPS_SUDO_PASSWORD or sudo.passwordFile) and that the user may use sudo.',
            ),
          );
          channel.close();
          return;
        }
        prompted = true;
        channel.write(`${sudoPassword}\n`);
        continue;
      }
      if (readyAt >= 0) {
        const nl = buffered.indexOf('\n', readyAt);
        if (nl < 0) return; // wait for the PID and newline
        const pid = Number.parseInt(buffered.slice(readyAt + markers.ready.length, nl).trim(), 10);
        const after = buffered.slice(nl + 1);
        buffered = '';
        ready = true;
        resolveReady(Number.isFinite(pid) ? pid : undefined);
        if (after) deliver(Buffer.from(after, 'latin1'));
        return;
      }
      return;
    }
  });
  void closed.then(() => {
    if (!ready) {
      // The command never started: sudo or the shell failed. Keep sudo's own words.
      if (buffered.includes(markers.denied)) {
        rejectReady(
          new SudoError(
            `sudo on the NAS does not allow ${username} to run ${rootProgram ?? 'this command'} as loop-ops-mcp needs it`,
            'Install the rules printed by `loop-ops-mcp sudoers` in /etc/sudoers.d/ on the NAS (they follow docker.binary, nginx.* and sudo.programs).',
          ),
        );
        return;
      }
      const msg = buffered.replace(/\s+/g, ' ').trim();
      rejectReady(
        /sudo/i.test(msg)
          ? new SudoError(`sudo on the NAS failed: ${msg.slice(0, 300)}`, 'Check that the SSH user may run this with sudo.')
          : new Error(`the remote command did not start${msg ? `: ${msg.slice(0, 300)}` : ''}`),
      );
    }
  });
  return {
    ready: readyP,
    onStderr(fn) {
      sink = fn;
      for (const b of early.splice(0)) fn(b);
    },
  };
}

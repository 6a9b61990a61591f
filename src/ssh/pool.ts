/**
 * The SSH connection pool: every remote action goes through here.
 *
 * - lazy: the first call connects; concurrent callers share that one connect;
 * - bounded: at most `maxChannelsPerConnection` channels per connection
 *   (OpenSSH MaxSessions is 10), up to `maxConnections` connections, callers
 *   beyond that wait in a queue for at most `channelWaitTimeoutMs`;
 * - self-healing: a dead connection (keepalive, TCP error) is dropped and the
 *   next call opens a fresh ssh2 Client; repeated connect failures back off;
 * - idle connections are closed.
 */
import type { Duplex } from 'node:stream';
import type { SFTPWrapper } from 'ssh2';
import type { Logger } from '../log.js';
import { BoundedBuffer, handlePreamble, LineSplitter } from './channel-io.js';
import { Connection, isChannelOpenFailure, type OpenedChannel, type SshTarget } from './connection.js';
import {
  ChannelWaitTimeoutError,
  ConnectionLostError,
  ExecAbortedError,
  ExecTimeoutError,
  HostKeyMismatchError,
  NasUnreachableError,
  RemoteCommandError,
  RootCommandNotListedError,
  SshAuthError,
  SshError,
  SudoError,
} from './errors.js';
import type { RootPolicy, RootPrograms } from './root-commands.js';
import { buildRemoteCommand, GATE_OPEN_LINE, newMarkers, type SudoMode } from './sudo.js';

export interface PoolOptions {
  maxChannelsPerConnection: number;
  maxConnections: number;
  idleTimeoutMs: number;
  channelWaitTimeoutMs: number;
  sudoMode: SudoMode;
  sudoPassword?: string;
  /**
   * What may run as root (src/ssh/root-commands.ts): a sudo command not on it
   * is refused here, before anything is sent. Required unless sudoMode is none.
   */
  rootPolicy?: RootPolicy;
  /** Default bound for exec when the caller gives none. */
  defaultTimeoutMs: number;
  /** Cap on captured bytes per stream when the caller gives none. */
  defaultMaxOutputBytes: number;
}

export interface ExecOptions {
  /**
   * Run as root through sudo (per the configured sudo mode): argv must then be
   * an absolute program with arguments that a rule of the root policy allows
   * once the pool has put `timeout -k 2 NNNNN` in front of it.
   */
  sudo?: boolean;
  /** Ends the call and the remote process. Default: pool's defaultTimeoutMs. 0 = no bound. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bytes written to the command's stdin (after sudo is done with it), then EOF. */
  stdin?: string | Buffer;
  /** Cap per stream; default pool's defaultMaxOutputBytes. */
  maxOutputBytes?: number;
  /** Which end to keep when the cap is hit (logs want the tail). */
  keep?: 'head' | 'tail';
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
}

/** What `arm` options add to exec's: told when the command could run at once. */
interface GateOptions {
  /** The command runs when this resolves true; false: it never runs. */
  startWhen: Promise<boolean>;
  onArmed: () => void;
}

/**
 * A command prepared ahead of its time (`SshPool.arm`): the channel is open
 * and, for a root command, sudo has checked the password and the rule; the
 * command itself has not run.
 */
export interface ArmedExec {
  /** Resolves when `run` would start the command at once; rejects as exec would (sudo refused, NAS unreachable). */
  readonly armed: Promise<void>;
  /** Starts the command (once); resolves like exec. */
  run(): Promise<ExecResult>;
  /** The command will never run; the channel closes. Harmless after run. */
  cancel(): void;
}

export interface ExecResult {
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  durationMs: number;
}

export interface PoolStats {
  connections: number;
  readyConnections: number;
  activeChannels: number;
  waiting: number;
  connectsOpened: number;
  channelRetries: number;
}

interface Lease {
  conn: Connection;
  release(): void;
}

const CHANNEL_RETRIES = 8;
/** How long a prepared command waits for `go` before it is given up (its user prepares a new one). */
export const ARMED_WAIT_MAX_MS = 120_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SshPool {
  private readonly conns: Connection[] = [];
  private readonly waiters = new Set<() => void>();
  private connecting: Promise<void> | undefined;
  private consecutiveConnectFailures = 0;
  private lastConnectError: Error | undefined;
  private nextConnectAt = 0;
  private closed = false;
  private sftpShared: Promise<SFTPWrapper> | undefined;
  private readonly idleTimer: NodeJS.Timeout;
  private readonly stats = { connectsOpened: 0, channelRetries: 0 };

  constructor(
    readonly target: SshTarget,
    private readonly opts: PoolOptions,
    private readonly log?: Logger,
  ) {
    this.idleTimer = setInterval(() => this.closeIdle(), Math.min(opts.idleTimeoutMs, 30_000));
    this.idleTimer.unref();
  }

  getStats(): PoolStats {
    return {
      connections: this.conns.length,
      readyConnections: this.conns.filter((c) => c.state === 'ready').length,
      activeChannels: this.conns.reduce((n, c) => n + c.active, 0),
      waiting: this.waiters.size,
      ...this.stats,
    };
  }

  /** Absolute paths of the plain programs run as root (undefined when nothing runs as root). */
  get rootPrograms(): RootPrograms | undefined {
    return this.opts.sudoMode === 'none' ? undefined : this.opts.rootPolicy?.programs;
  }

  /** Runs argv on the NAS; resolves with exit code and output whatever the code. */
  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.execGated(argv, opts, undefined);
  }

  /**
   * Prepares argv now and runs it later: the connection, the channel and (for
   * a root command) sudo's password check, which costs a root command most of
   * its time, happen while the caller does other work; `run()` then costs
   * one round trip and the command itself. The wrapper runs nothing until we
   * send `go` (sudo.ts, BuildOptions.gated). The time limit counts from run().
   */
  arm(argv: readonly string[], opts: Omit<ExecOptions, 'signal'> & { signal?: AbortSignal } = {}): ArmedExec {
    let open!: (go: boolean) => void;
    const startWhen = new Promise<boolean>((r) => (open = r));
    let onArmed!: () => void;
    const armedP = new Promise<void>((r) => (onArmed = r));
    const result = this.execGated(argv, opts, { startWhen, onArmed });
    result.catch(() => {}); // observed through armed/run
    const armed = Promise.race([armedP, result.then(() => {})]);
    armed.catch(() => {});
    return {
      armed,
      run: () => {
        open(true);
        return result;
      },
      cancel: () => open(false),
    };
  }

  private async execGated(argv: readonly string[], opts: ExecOptions, gate: GateOptions | undefined): Promise<ExecResult> {
    const started = performance.now();
    const timeoutMs = opts.timeoutMs ?? this.opts.defaultTimeoutMs;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : undefined;
    const useSudo = opts.sudo === true && this.opts.sudoMode !== 'none';
    const markers = newMarkers();
    const timeoutSec = timeoutMs > 0 ? Math.max(1, Math.ceil(timeoutMs / 1000)) : 0;
    const remoteArgv = useSudo ? this.rootArgv(argv, timeoutSec) : argv;
    // Quoting happens here, once, for every command (throws on NUL).
    const command = buildRemoteCommand(remoteArgv, { sudo: useSudo, sudoMode: this.opts.sudoMode, timeoutSec, markers, gated: gate !== undefined });
    throwIfAborted(opts.signal);

    // A prepared command's channel wait is bounded by the pool's, not by the command's own limit.
    const { lease, value: opened } = await this.openChannel(opts.signal, gate ? undefined : deadline, (c) => c.exec(command));
    try {
      const r = await this.runChannel(lease.conn, opened, markers, useSudo ? argv[0] : undefined, opts, timeoutMs, started, gate);
      if (useSudo && this.opts.sudoMode === 'password' && r.code === 1 && /^sudo: a password is required/m.test(r.stderr)) {
        throw new SudoError(
          `sudo on the NAS accepted the password but asked again for ${argv[0]}: it keeps no credentials (timestamp_timeout = 0?)`,
          `Let sudo cache credentials for ${this.target.username} (e.g. "Defaults:${this.target.username} timestamp_timeout=1"), or use sudo.mode nopasswd with the rules from \`loop-ops-mcp sudoers\`.`,
        );
      }
      return r;
    } finally {
      lease.release();
    }
  }

  /** The exact argv sudo will run (timeout prefix included), refused unless the root policy lists it. */
  private rootArgv(argv: readonly string[], timeoutSec: number): string[] {
    const policy = this.opts.rootPolicy;
    if (!policy) throw new RootCommandNotListedError(`no root commands are configured; cannot run ${argv[0]} through sudo`);
    const full = policy.withTimeout(argv, timeoutSec);
    if (!policy.match(full)) {
      throw new RootCommandNotListedError(
        `refusing to run ${argv[0]} as root: this command is not on loop-ops-mcp's list of root commands (src/ssh/root-commands.ts)`,
      );
    }
    return full;
  }

  /**
   * Takes a slot and opens a channel on it, retrying where nothing can have
   * run yet: the server refused the channel (its session slots free with a
   * small lag), or the connection turned out dead before anything was sent
   * (a drop is noticed a moment late); then a fresh connection is used.
   */
  private async openChannel<T>(
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    open: (conn: Connection) => Promise<T>,
    /** Session channels: a refusal means "slots busy". A forwarded connection refused means nothing listens: do not retry. */
    retryRefusal = true,
  ): Promise<{ lease: Lease; value: T }> {
    for (let attempt = 0; ; attempt++) {
      const lease = await this.acquire(signal, deadline);
      try {
        return { lease, value: await open(lease.conn) };
      } catch (err) {
        lease.release();
        if (retryRefusal && attempt < CHANNEL_RETRIES && isChannelOpenFailure(err)) {
          this.stats.channelRetries++;
          await sleep(5 * 2 ** Math.min(attempt, 5));
          continue;
        }
        if (attempt < CHANNEL_RETRIES && lease.conn.state === 'closed') continue;
        throw err;
      }
    }
  }

  /** Like exec, but a non-zero exit is an error carrying stderr's tail. */
  async run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) {
      const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
      throw new RemoteCommandError(
        `${argv[0]} exited with ${r.code ?? r.signal}${tail ? `: ${tail}` : ''}`,
        r.code,
        r.stderr,
      );
    }
    return r;
  }

  private runChannel(
    conn: Connection,
    { channel, exited, closed }: OpenedChannel,
    markers: ReturnType<typeof newMarkers>,
    /** The root program when this runs through sudo. */
    rootProgram: string | undefined,
    opts: ExecOptions,
    timeoutMs: number,
    started: number,
    gate?: GateOptions,
  ): Promise<ExecResult> {
    const max = opts.maxOutputBytes ?? this.opts.defaultMaxOutputBytes;
    const keep = opts.keep ?? 'head';
    const out = new BoundedBuffer(max, keep);
    const err = new BoundedBuffer(max, keep);
    const outLines = opts.onStdoutLine ? new LineSplitter(opts.onStdoutLine) : undefined;
    const errLines = opts.onStderrLine ? new LineSplitter(opts.onStderrLine) : undefined;
    const pre = handlePreamble(channel, closed, markers, rootProgram ? this.opts.sudoPassword : undefined, this.target.username, rootProgram);
    pre.onStderr((b) => {
      err.push(b);
      errLines?.push(b);
    });
    channel.on('data', (b: Buffer) => {
      out.push(b);
      outLines?.push(b);
    });

    return new Promise<ExecResult>((resolve, reject) => {
      let pid: number | undefined;
      let startedAt = started;
      let exit: { code: number | null; signal: string | undefined } | undefined;
      let failure: Error | undefined;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        cleanup();
        outLines?.end();
        errLines?.end();
        if (failure) return reject(failure);
        if (!exit) {
          return reject(this.lostError(conn));
        }
        // Our remote `timeout` exits 124 (or 137 after its -k KILL).
        if (timeoutMs > 0 && (exit.code === 124 || exit.code === 137) && performance.now() - startedAt >= timeoutMs - 50) {
          return reject(new ExecTimeoutError(`the command ran past its ${timeoutMs} ms limit and was stopped`));
        }
        resolve({
          code: exit.code,
          signal: exit.signal,
          stdout: out.toBuffer().toString('utf8'),
          stderr: err.toBuffer().toString('utf8'),
          stdoutTruncated: out.truncated,
          stderrTruncated: err.truncated,
          durationMs: performance.now() - startedAt,
        });
      };
      const stop = (e: Error) => {
        if (settled || failure) return;
        failure = e;
        if (pid !== undefined) this.killRemote(pid);
        channel.close();
        // 'close' may never come on a dead connection; do not wait for it.
        setTimeout(finish, 200).unref();
      };
      // Local bound slightly above the remote `timeout`, which normally fires first (a prepared command: from its start).
      let timer: NodeJS.Timeout | undefined;
      const startTimer = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        if (timeoutMs > 0)
          timer = setTimeout(() => stop(new ExecTimeoutError(`the command ran past its ${timeoutMs} ms limit and was stopped`)), timeoutMs + 2_000);
      };
      // A prepared command is bounded too: its preparation by the command's own limit, then its wait for `go`.
      startTimer();
      const waitForGo = () => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => stop(new ExecAbortedError('the prepared command was not started in time')), ARMED_WAIT_MAX_MS);
      };
      const onAbort = () => stop(new ExecAbortedError('the command was cancelled and the remote process stopped'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const offClose = conn.onClose(() => {
        if (!exit) stop(this.lostError(conn));
      });
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        offClose();
      };

      pre.ready.then(
        (p) => {
          pid = p;
          if (settled || failure) {
            if (pid !== undefined) this.killRemote(pid);
            return;
          }
          if (!gate) {
            if (opts.stdin !== undefined) channel.write(opts.stdin);
            channel.end();
            return;
          }
          waitForGo();
          gate.onArmed();
          void gate.startWhen.then((go) => {
            if (settled || failure) return;
            if (!go) {
              // EOF instead of `go`: the wrapper exits having run nothing.
              failure = new ExecAbortedError('the prepared command was not started');
              channel.end();
              return;
            }
            startedAt = performance.now();
            startTimer();
            channel.write(`${GATE_OPEN_LINE}\n`);
            if (opts.stdin !== undefined) channel.write(opts.stdin);
            channel.end();
          });
        },
        (e: Error) => {
          if (!failure) failure = e;
          channel.close();
        },
      );
      // exit-status precedes the close; both were captured when the channel opened.
      void exited.then((e) => {
        exit = e;
      });
      // Settle after the preamble did: a command that never started (sudo said no) is an error, not an exit code.
      void closed.then(() => pre.ready.catch(() => {})).then(finish);
      // Consume both streams: ssh2 only emits 'close' once they are drained.
      channel.resume();
    });
  }

  /**
   * A long-lived byte stream to a remote program (e.g. `docker system
   * dial-stdio`), returned once the program runs. It holds one channel slot
   * until it closes.
   */
  async openStream(argv: readonly string[], opts: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<Duplex> {
    const useSudo = opts.sudo === true && this.opts.sudoMode !== 'none';
    const markers = newMarkers();
    const remoteArgv = useSudo ? this.rootArgv(argv, 0) : argv;
    const command = buildRemoteCommand(remoteArgv, { sudo: useSudo, sudoMode: this.opts.sudoMode, timeoutSec: 0, markers });
    const deadline = Date.now() + this.opts.channelWaitTimeoutMs;
    const { lease, value: opened } = await this.openChannel(opts.signal, deadline, (c) => c.exec(command));
    // The slot is held for the stream's whole life and freed when it closes.
    void opened.closed.then(() => lease.release());
    this.closeWithConnection(lease.conn, opened.channel, opened.closed);
    const pre = handlePreamble(
      opened.channel,
      opened.closed,
      markers,
      useSudo ? this.opts.sudoPassword : undefined,
      this.target.username,
      useSudo ? argv[0] : undefined,
    );
    pre.onStderr(() => {}); // drain: ssh2 only closes a channel whose streams were consumed
    try {
      await pre.ready;
    } catch (e) {
      opened.channel.close();
      throw e;
    }
    return opened.channel;
  }

  /**
   * A TCP stream opened by the NAS to host:port on its own side (SSH
   * direct-tcpip), e.g. a container port bound to the NAS's 127.0.0.1. No
   * remote shell is involved. Holds one channel slot until it closes.
   */
  async forward(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    try {
      const { lease, value: ch } = await this.openChannel(signal, Date.now() + this.opts.channelWaitTimeoutMs, (c) => c.forwardOut(host, port), false);
      ch.once('close', () => lease.release());
      this.closeWithConnection(lease.conn, ch, new Promise<void>((r) => ch.once('close', () => r())));
      return ch;
    } catch (err) {
      if (err instanceof SshError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw new SshError(`the NAS could not open a TCP connection to ${host}:${port} (${reason})`);
    }
  }

  /**
   * A long-lived SFTP session (one channel slot), opened on first use and
   * reopened after its connection dies. Reads through it cost round trips
   * only: no process starts on the NAS.
   */
  sharedSftp(signal?: AbortSignal): Promise<SFTPWrapper> {
    if (!this.sftpShared) {
      const p = (async () => {
        const { lease, value: sftp } = await this.openChannel(signal, Date.now() + this.opts.channelWaitTimeoutMs, (c) => c.sftp());
        let dropped = false;
        const drop = () => {
          if (dropped) return;
          dropped = true;
          if (this.sftpShared === p) this.sftpShared = undefined;
          lease.release();
        };
        sftp.once('close', drop);
        lease.conn.onClose(drop);
        return sftp;
      })();
      this.sftpShared = p;
      p.catch(() => {
        if (this.sftpShared === p) this.sftpShared = undefined;
      });
    }
    return this.sftpShared;
  }

  /**
   * ssh2 emits a channel's 'close' only after its readable side ended, which
   * a paused stream (an idle kept-alive HTTP socket) never does. When the
   * connection dies, say so to whoever holds the stream, once.
   */
  private closeWithConnection(conn: Connection, stream: Duplex, closed: Promise<void>): void {
    let done = false;
    void closed.then(() => (done = true));
    conn.onClose(() => {
      if (done) return;
      done = true;
      stream.emit('close');
    });
  }

  /** An SFTP session (one channel slot) for the duration of `fn`. */
  async withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const { lease, value: sftp } = await this.openChannel(signal, Date.now() + this.opts.channelWaitTimeoutMs, (c) => c.sftp());
    try {
      return await fn(sftp);
    } finally {
      sftp.end();
      lease.release();
    }
  }

  /** Quick reachability check: connects if needed. Never throws. */
  async probe(): Promise<boolean> {
    try {
      const lease = await this.acquire(undefined, Date.now() + this.target.connectTimeoutMs);
      lease.release();
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    for (const c of this.conns.splice(0)) c.close();
    for (const w of this.waiters) w();
  }

  /** Drops every connection (tests, and after the NAS host key was re-pinned). */
  resetConnections(): void {
    for (const c of this.conns.splice(0)) c.close();
  }

  // --- slots -------------------------------------------------------------

  private async acquire(signal: AbortSignal | undefined, deadline: number | undefined): Promise<Lease> {
    const waitUntil = Math.min(deadline ?? Infinity, Date.now() + this.opts.channelWaitTimeoutMs);
    for (;;) {
      throwIfAborted(signal);
      if (this.closed) throw new SshError('the SSH pool is closed');
      const conn = this.pickConnection();
      if (conn) {
        conn.active++;
        conn.lastUsed = Date.now();
        let released = false;
        return {
          conn,
          release: () => {
            if (released) return;
            released = true;
            conn.active--;
            conn.lastUsed = Date.now();
            this.wake();
          },
        };
      }
      const live = this.conns.filter((c) => c.state !== 'closed');
      const hasReady = live.some((c) => c.state === 'ready');
      if (!this.connecting && live.length < this.opts.maxConnections) {
        if (Date.now() < this.nextConnectAt && !hasReady) {
          // Backing off after failures: answer at once rather than hang.
          throw this.lastConnectError ?? new NasUnreachableError(`NAS ${this.target.name} is unreachable`);
        }
        if (Date.now() >= this.nextConnectAt) {
          const p = this.connectOne();
          if (!hasReady) {
            await p; // surfaces the connect error to the callers that need it
            continue;
          }
          p.catch(() => {}); // extra capacity; failures are logged by connectOne
        }
      } else if (this.connecting && !hasReady) {
        await this.connecting;
        continue;
      }
      await this.waitForSlot(signal, waitUntil);
    }
  }

  private pickConnection(): Connection | undefined {
    let best: Connection | undefined;
    for (const c of this.conns) {
      if (c.state !== 'ready' || c.active >= this.opts.maxChannelsPerConnection) continue;
      if (!best || c.active < best.active) best = c;
    }
    return best;
  }

  private waitForSlot(signal: AbortSignal | undefined, waitUntil: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const remaining = waitUntil - Date.now();
      if (remaining <= 0) {
        reject(
          new ChannelWaitTimeoutError(
            `no SSH channel to ${this.target.name} became free in time (${this.getStats().activeChannels} busy)`,
            'The NAS is busy with other calls; try again shortly.',
          ),
        );
        return;
      }
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, remaining);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private connectOne(): Promise<void> {
    const conn = new Connection(this.target);
    this.conns.push(conn);
    const p = conn
      .open((v) => {
        if (this.target.hostKey.kind === 'acceptAny') {
          this.log?.warn(
            { target: this.target.name, fingerprint: v.fingerprint },
            'HOST KEY NOT VERIFIED (nas.insecureAcceptAnyHostKey): pin this fingerprint in nas.hostKeyFingerprint now',
          );
        }
      })
      .then(
        () => {
          this.stats.connectsOpened++;
          this.consecutiveConnectFailures = 0;
          this.lastConnectError = undefined;
          this.nextConnectAt = 0;
          conn.onClose((err) => {
            this.drop(conn);
            this.log?.info({ target: this.target.name, conn: conn.id, reason: err.message }, 'ssh connection closed');
          });
          this.log?.debug({ target: this.target.name, conn: conn.id }, 'ssh connection ready');
        },
        (err: Error) => {
          this.drop(conn);
          this.consecutiveConnectFailures++;
          this.lastConnectError = err;
          // Host key and auth problems will not fix themselves: back off longer.
          const fatal = err instanceof HostKeyMismatchError || err instanceof SshAuthError;
          const backoff = fatal ? 10_000 : Math.min(5_000, 250 * 2 ** (this.consecutiveConnectFailures - 1));
          this.nextConnectAt = Date.now() + backoff;
          this.log?.warn({ target: this.target.name, err: err.message, backoffMs: backoff }, 'ssh connect failed');
          throw err;
        },
      )
      .finally(() => {
        this.connecting = undefined;
        this.wake();
      });
    this.connecting = p.catch(() => {});
    return p;
  }

  private drop(conn: Connection): void {
    const i = this.conns.indexOf(conn);
    if (i >= 0) this.conns.splice(i, 1);
    this.wake();
  }

  private closeIdle(): void {
    const now = Date.now();
    for (const c of [...this.conns]) {
      if (c.state === 'ready' && c.active === 0 && now - c.lastUsed > this.opts.idleTimeoutMs) {
        this.drop(c);
        c.close();
      }
    }
  }

  private lostError(conn: Connection): ConnectionLostError {
    return new ConnectionLostError(
      `the SSH connection to ${this.target.name} was lost while the command ran (${conn.closeReason?.message ?? 'closed'})`,
      'The outcome on the NAS is unknown; check with status before retrying a write.',
    );
  }

  /**
   * Ends a remote process we started (closing a channel does not). The PID is
   * our wrapper's, which exec'd into `timeout` (user commands) or into sudo
   * (root commands: sudo keeps the SSH user as its real uid, so the user may
   * signal it, and it relays TERM to its `timeout`). `timeout` forwards TERM to
   * the command and escalates to KILL itself (-k), so we never send KILL to a
   * PID that might have been reused, and never need root for it. Best effort.
   */
  private killRemote(pid: number): void {
    this.exec(['kill', '-TERM', String(pid)], { timeoutMs: 5_000 }).catch(() => {
      // Gone already, or the connection is down: nothing left to do.
    });
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ExecAbortedError('the call was cancelled before the command started');
}


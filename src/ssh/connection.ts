/**
 * One SSH connection: an ssh2 Client over a TCP socket with Nagle off,
 * keepalive on, and the host key checked. A Connection is never reused after
 * it closed: ssh2 Clients are not safe to reconnect, so the pool makes a new
 * one instead.
 */
import { connect as tcpConnect } from 'node:net';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { HostKeyMismatchError, NasUnreachableError, SshAuthError, SshError } from './errors.js';
import { verifyHostKey, type HostKeyPolicy, type HostKeyVerdict } from './hostkey.js';

export interface SshTarget {
  /** A short name for logs and errors. */
  name: string;
  host: string;
  port: number;
  username: string;
  privateKey?: Buffer;
  passphrase?: string;
  /** Path of an ssh-agent socket. */
  agent?: string;
  password?: string;
  hostKey: HostKeyPolicy;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

export interface ExitInfo {
  code: number | null;
  signal: string | undefined;
}

/** An exec channel with its end events captured from the first moment. */
export interface OpenedChannel {
  channel: ClientChannel;
  exited: Promise<ExitInfo>;
  closed: Promise<void>;
}

let nextId = 1;

export class Connection {
  readonly id = nextId++;
  readonly client = new Client();
  state: 'connecting' | 'ready' | 'closed' = 'connecting';
  /** Channels (exec, sftp, streams) open or opening on this connection. */
  active = 0;
  lastUsed = Date.now();
  closeReason: Error | undefined;
  private readonly closeListeners = new Set<(err: Error) => void>();

  constructor(private readonly target: SshTarget) {}

  /** Connects and authenticates; rejects with a typed, actionable error. */
  open(onHostKeyAccepted?: (verdict: HostKeyVerdict) => void): Promise<void> {
    const t = this.target;
    let verdict: HostKeyVerdict | undefined;
    const sock = tcpConnect({ host: t.host, port: t.port });
    // ssh2 leaves Nagle on: each small packet then waits for the peer's
    // delayed ACK, turning a ~3 ms exec into 50-90 ms.
    sock.setNoDelay(true);
    const cfg: ConnectConfig = {
      sock,
      username: t.username,
      privateKey: t.privateKey,
      passphrase: t.passphrase,
      agent: t.agent,
      password: t.password,
      tryKeyboard: false,
      readyTimeout: t.connectTimeoutMs,
      keepaliveInterval: t.keepaliveIntervalMs,
      keepaliveCountMax: t.keepaliveCountMax,
      hostVerifier: (key: Buffer) => {
        verdict = verifyHostKey(t.hostKey, t.host, t.port, key);
        return verdict.ok;
      },
    };
    return new Promise<void>((resolve, reject) => {
      const onError = (err: Error & { level?: string; code?: string }) => {
        if (this.state === 'closed') return;
        this.markClosed(err);
        this.client.removeListener('ready', onReady);
        this.client.removeListener('close', onEarlyClose);
        if (verdict && !verdict.ok) {
          reject(new HostKeyMismatchError(`refusing to connect to ${t.name}: ${verdict.reason}`, verdict.fingerprint));
        } else if (err.level === 'client-authentication') {
          reject(
            new SshAuthError(
              `SSH login as ${t.username} on ${t.name} was refused (${err.message})`,
              'Check nas.username and that the public key of nas.privateKeyPath is in ~/.ssh/authorized_keys on the NAS.',
            ),
          );
        } else if (err.level === 'client-socket' || err.level === 'client-timeout' || err.level === 'client-dns') {
          const what = err.code ? `${err.code}` : err.message;
          reject(
            new NasUnreachableError(
              `NAS ${t.name} (${t.host}:${t.port}) is unreachable: ${what}`,
              'Check that the NAS is up and its SSH service is enabled on that port.',
            ),
          );
        } else {
          reject(new SshError(`SSH connection to ${t.name} failed: ${err.message}`));
        }
        this.client.end();
      };
      const onEarlyClose = () => onError(Object.assign(new Error('connection closed during the handshake'), { level: 'client-socket' }));
      const onReady = () => {
        this.client.removeListener('error', onError);
        this.client.removeListener('close', onEarlyClose);
        this.state = 'ready';
        if (verdict) onHostKeyAccepted?.(verdict);
        this.client.on('error', (err) => this.markClosed(err));
        this.client.on('close', () => this.markClosed(new Error('connection closed')));
        resolve();
      };
      this.client.once('ready', onReady);
      // `on`, not `once`: a failed handshake can emit a second error (e.g.
      // "Connection lost before handshake"), which would otherwise crash the process.
      this.client.on('error', onError);
      this.client.once('close', onEarlyClose);
      this.client.connect(cfg);
    });
  }

  /** Called whenever the connection ends, with the reason. */
  onClose(fn: (err: Error) => void): () => void {
    if (this.state === 'closed') {
      fn(this.closeReason ?? new Error('connection closed'));
      return () => {};
    }
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  private markClosed(err: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closeReason = err;
    for (const fn of this.closeListeners) fn(err);
    this.closeListeners.clear();
  }

  /** ssh2 throws "Not connected" when the socket died before its close event ran: mark it dead now. */
  private guard<T>(open: (resolve: (v: T) => void, reject: (e: Error) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const fail = (e: Error) => {
        if (/Not connected|No response from server/i.test(e.message)) this.markClosed(e);
        reject(e);
      };
      try {
        open(resolve, fail);
      } catch (e) {
        fail(e as Error);
      }
    });
  }

  exec(command: string): Promise<OpenedChannel> {
    return this.guard((resolve, reject) => {
      // Never a pty: a pty would echo what we write to stdin (the sudo password) into stdout.
      this.client.exec(command, { pty: false }, (err, channel) => {
        if (err) return reject(err);
        // Listen NOW, inside ssh2's callback: a fast command's exit-status can
        // arrive in the same packet batch as the exec reply, and ssh2 emits
        // plain events that a listener attached one microtask later misses.
        const exited = new Promise<ExitInfo>((res) =>
          channel.once('exit', (code: number | null, signal?: string) =>
            res({ code: typeof code === 'number' ? code : null, signal: signal ?? undefined }),
          ),
        );
        const closed = new Promise<void>((res) => channel.once('close', () => res()));
        resolve({ channel, exited, closed });
      });
    });
  }

  /** A direct-tcpip channel: a TCP connection made by the NAS to host:port on its side. */
  forwardOut(host: string, port: number): Promise<ClientChannel> {
    return this.guard((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => (err ? reject(err) : resolve(ch)));
    });
  }

  sftp(): Promise<SFTPWrapper> {
    return this.guard((resolve, reject) => {
      this.client.sftp((err, sftp) => (err ? reject(err) : resolve(sftp)));
    });
  }

  close(): void {
    this.markClosed(new Error('connection closed by the pool'));
    this.client.end();
  }
}

/** OpenSSH refused a channel (MaxSessions reached, or slots not yet freed): retry, the connection is fine. */
export function isChannelOpenFailure(err: unknown): boolean {
  return err instanceof Error && /Channel open failure/i.test(err.message);
}

/**
 * HTTP to the Docker Engine over SSH: each "socket" is one exec channel
 * running `sudo docker system dial-stdio` on the NAS (what `docker -H ssh://`
 * does), kept alive and reused by Node's http Agent. A request then costs
 * well under a millisecond on loopback, instead of a process start, a sudo
 * and a CLI run per call.
 */
import { Agent, request, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SshPool } from '../ssh/pool.js';

/** Methods Node's http stack calls on a net.Socket that a channel lacks. */
export function asSocketLike(stream: Duplex): Duplex {
  const s = stream as Duplex & Record<string, unknown>;
  let idle: NodeJS.Timeout | undefined;
  let idleMs = 0;
  const arm = () => {
    if (idle) clearTimeout(idle);
    idle = idleMs > 0 ? setTimeout(() => stream.emit('timeout'), idleMs) : undefined;
    idle?.unref();
  };
  let timeoutCb: (() => void) | undefined;
  s.setTimeout = (ms: number, cb?: () => void) => {
    idleMs = ms;
    // Node's http calls this per request: keep one callback, not one per call.
    if (timeoutCb) stream.removeListener('timeout', timeoutCb);
    timeoutCb = cb;
    if (cb) stream.on('timeout', cb);
    arm();
    return stream;
  };
  stream.on('data', arm);
  // Node's Agent drops a free socket on 'close' only if it is no longer
  // writable, and reuses any free socket that is not `destroyed`: a closed
  // channel must look like both, or the next request hangs on it.
  let closed = false;
  stream.once('close', () => {
    closed = true;
    if (idle) clearTimeout(idle);
  });
  Object.defineProperty(stream, 'writable', { get: () => !closed && !stream.writableEnded, configurable: true, set: () => {} });
  Object.defineProperty(stream, 'destroyed', {
    get: () => closed || stream.readableEnded,
    set: (v: boolean) => {
      if (v) closed = true;
    },
    configurable: true,
  });
  s.setNoDelay = () => stream;
  s.setKeepAlive = () => stream;
  s.ref = () => stream;
  s.unref = () => stream;
  return stream;
}

export interface EngineTransportOptions {
  /** Absolute path of the docker CLI on the NAS. */
  dockerBinary: string;
  /** Whether docker needs sudo (true on Synology for non-root users). */
  sudo: boolean;
  /** Parallel dial-stdio channels kept (each holds one SSH channel slot). */
  maxSockets: number;
  /** Close a dial-stdio channel unused for this long. */
  idleSocketMs: number;
}

class DialStdioAgent extends Agent {
  constructor(
    private readonly pool: SshPool,
    private readonly opts: EngineTransportOptions,
  ) {
    super({ keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets, timeout: opts.idleSocketMs });
  }

  // Node's Agent accepts the socket through the callback: opening a channel is asynchronous.
  override createConnection(_options: ClientRequestArgs, cb: (err: Error | null, socket?: Duplex) => void): undefined {
    this.pool
      .openStream([this.opts.dockerBinary, 'system', 'dial-stdio'], { sudo: this.opts.sudo })
      .then((stream) => cb(null, asSocketLike(stream)), (err: Error) => cb(err));
    return undefined;
  }
}

export interface EngineResponse {
  status: number;
  body: Buffer;
}

/** A counting semaphore: callers beyond `limit` wait their turn, in order. */
class Semaphore {
  private active = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.queue.push(r));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

export class EngineTransport {
  private readonly agent: DialStdioAgent;
  private readonly pool: SshPool;
  private readonly opts: EngineTransportOptions;
  /**
   * Node's Agent does not count sockets that are still being created
   * (our createConnection is asynchronous) against maxSockets, so a burst of
   * requests would open a channel each. Bounding requests in flight here
   * keeps it to `maxSockets` kept-alive channels, reused back to back.
   */
  private readonly inFlight: Semaphore;

  constructor(pool: SshPool, opts: EngineTransportOptions) {
    this.pool = pool;
    this.opts = opts;
    this.agent = new DialStdioAgent(pool, opts);
    this.inFlight = new Semaphore(opts.maxSockets);
  }

  request(
    method: string,
    path: string,
    opts: { body?: unknown; signal?: AbortSignal; timeoutMs?: number; maxBytes?: number } = {},
  ): Promise<EngineResponse> {
    return this.inFlight.run(() => this.send(method, path, opts));
  }

  /** One request; the body is collected up to `maxBytes` (then the request is cut). */
  private send(
    method: string,
    path: string,
    opts: { body?: unknown; signal?: AbortSignal; timeoutMs?: number; maxBytes?: number } = {},
  ): Promise<EngineResponse> {
    return new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
      const req = request(
        {
          agent: this.agent,
          method,
          path,
          host: 'docker', // Engine ignores it; HTTP/1.1 needs one
          headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          signal: opts.signal,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (opts.maxBytes && size > opts.maxBytes) {
              req.destroy(new Error(`the Docker Engine answer exceeded ${opts.maxBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
          });
          res.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
          });
        },
      );
      const timer = setTimeout(
        () => req.destroy(new Error(`the Docker Engine did not answer ${method} ${path.split('?')[0]} within ${opts.timeoutMs} ms`)),
        opts.timeoutMs ?? 30_000,
      );
      timer.unref();
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.end(payload);
    });
  }

  /**
   * A response that stays open (the event stream): on a dial-stdio channel of
   * its own, outside the kept-alive ones and their request slots, so it never
   * holds up a request. Resolves with the response once the Engine answered
   * 200 (a 2xx); anything else rejects with its status and text. Destroying
   * the response (or aborting `signal`) closes the channel.
   */
  async openStream(path: string, opts: { signal?: AbortSignal; headersTimeoutMs?: number } = {}): Promise<IncomingMessage> {
    const stream = asSocketLike(await this.pool.openStream([this.opts.dockerBinary, 'system', 'dial-stdio'], { sudo: this.opts.sudo, signal: opts.signal }));
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({
        method: 'GET',
        path,
        host: 'docker',
        // No agent: with `createConnection` (and `agent` left unset) Node uses this stream as the socket.
        createConnection: () => stream as unknown as Socket,
        signal: opts.signal,
      });
      const timer = setTimeout(() => req.destroy(new Error(`the Docker Engine did not answer GET ${path.split('?')[0]} within ${opts.headersTimeoutMs ?? 30_000} ms`)), opts.headersTimeoutMs ?? 30_000);
      timer.unref();
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          // The channel goes with the response.
          res.once('close', () => stream.destroy());
          resolve(res);
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.length < 16 && chunks.push(c));
        res.once('close', () => {
          stream.destroy();
          reject(new Error(`the Docker Engine answered HTTP ${status} to GET ${path.split('?')[0]}: ${Buffer.concat(chunks).toString('utf8').trim().slice(0, 300)}`));
        });
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        stream.destroy();
        reject(e);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

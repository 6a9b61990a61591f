/**
 * HTTP GETs made from the NAS's point of view: the TCP connection is an SSH
 * direct-tcpip channel opened by the NAS, so endpoints bound to the NAS's
 * 127.0.0.1 (each color's published port, nginx's front) are reachable
 * without curl on the NAS and without any remote shell.
 */
import { request, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SshPool } from './pool.js';

export interface HttpProbe {
  ok: boolean;
  status: number | undefined;
  latencyMs: number;
  /** The first bytes of the body, single-lined. */
  body: string;
  error: string | undefined;
}

const BODY_CAP = 2048;

function probe(
  connect: (cb: (err: Error | null, s?: Duplex) => void) => void,
  hostHeader: string,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HttpProbe> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (p: Omit<HttpProbe, 'latencyMs'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...p, latencyMs: Math.round((performance.now() - t0) * 10) / 10 });
    };
    const req = request(
      {
        method: 'GET',
        path,
        headers: { host: hostHeader, 'user-agent': 'loop-ops-mcp', connection: 'close' },
        createConnection: (_o: unknown, cb: (err: Error | null, s?: Duplex) => void) => {
          connect(cb);
          return undefined;
        },
        signal,
      } as unknown as import('node:http').RequestOptions,
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < BODY_CAP) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          const body = Buffer.concat(chunks).subarray(0, BODY_CAP).toString('utf8').replace(/\s+/g, ' ').trim();
          const status = res.statusCode;
          finish({ ok: status !== undefined && status >= 200 && status < 300, status, body, error: undefined });
        });
        res.on('error', (e) => finish({ ok: false, status: res.statusCode, body: '', error: e.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ ok: false, status: undefined, body: '', error: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (e) => finish({ ok: false, status: undefined, body: '', error: e.message }));
    req.end();
  });
}

/** GET http://host:port/path as seen from the NAS. */
export function probeFromNas(pool: SshPool, host: string, port: number, path: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpProbe> {
  return probe(
    (cb) => pool.forward(host, port, signal).then((s) => cb(null, s), (e: Error) => cb(e)),
    `${host}:${port}`,
    path,
    timeoutMs,
    signal,
  );
}

/** The first `cap` bytes of a fetch body; the rest is not read (a huge body costs nothing). */
async function readCapped(res: Response, cap: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < cap) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).subarray(0, cap).toString('utf8');
}

/** GET a public URL from where this server runs. */
export async function probeUrl(url: string, timeoutMs: number, signal?: AbortSignal): Promise<HttpProbe> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, {
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      headers: { 'user-agent': 'loop-ops-mcp' },
      redirect: 'manual',
    });
    const text = (await readCapped(res, BODY_CAP)).replace(/\s+/g, ' ').trim();
    return { ok: res.ok, status: res.status, latencyMs: Math.round((performance.now() - t0) * 10) / 10, body: text, error: undefined };
  } catch (e) {
    const err = e as Error;
    const msg = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause as Error | undefined)?.message ?? err.message;
    return { ok: false, status: undefined, latencyMs: Math.round((performance.now() - t0) * 10) / 10, body: '', error: msg };
  }
}

/**
 * Files on the NAS, written so a reader never sees half a file: write a temp
 * file beside the target, then rename over it (atomic on one filesystem).
 * SFTP for paths the SSH user owns; through sudo for root-owned ones.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import type { SshPool } from './pool.js';
import { rootTempPath } from './root-commands.js';

export interface WriteOptions {
  /** File mode of the new file (default 0o644). */
  mode?: number;
  /** Write as root through sudo (for root-owned paths). */
  sudo?: boolean;
  signal?: AbortSignal;
}

function tempPathFor(path: string): string {
  return posix.join(posix.dirname(path), `.${posix.basename(path)}.tmp-${randomBytes(4).toString('hex')}`);
}

const sftpCall = <T>(fn: (cb: (err: Error | null | undefined, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v as T))));

export async function writeFileAtomic(
  pool: SshPool,
  path: string,
  content: string | Buffer,
  opts: WriteOptions = {},
): Promise<void> {
  if (!path.startsWith('/')) throw new Error(`remote path must be absolute: ${path}`);
  const mode = opts.mode ?? 0o644;
  const tmp = tempPathFor(path);
  const root = opts.sudo ? pool.rootPrograms : undefined;
  if (root) {
    // One program per step, each on the root command list: no shell runs as root.
    // The temp name is fixed (the deploy lock keeps writers apart) so sudoers can name it.
    if (mode !== 0o644) throw new Error(`files written as root are mode 644 (asked ${mode.toString(8)})`);
    const rtmp = rootTempPath(path);
    const o = { sudo: true, timeoutMs: 30_000, signal: opts.signal };
    try {
      // `tee` copies our stdin into the temp file (and echoes it to stdout, which we drop).
      await pool.run([root.tee, '--', rtmp], { ...o, stdin: content });
      await pool.run([root.chmod, '644', '--', rtmp], o);
      await pool.run([root.mv, '-f', '--', rtmp, path], o); // rename(2) on one filesystem
    } catch (err) {
      await pool.exec([root.rm, '-f', '--', rtmp], { sudo: true, timeoutMs: 15_000 }).catch(() => {});
      throw err;
    }
    return;
  }
  // The pool's shared SFTP session: a write is then a few round trips on an open channel
  // (opening a session of its own starts an sftp-server on the NAS each time: ~5-10 ms).
  const sftp = await pool.sharedSftp(opts.signal);
  await sftpCall<void>((cb) => sftp.writeFile(tmp, content, { mode }, cb));
  try {
    // Plain SFTP rename fails when the target exists; OpenSSH's extension is rename(2).
    await sftpCall<void>((cb) => sftp.ext_openssh_rename(tmp, path, cb));
  } catch (err) {
    await sftpCall<void>((cb) => sftp.unlink(tmp, cb)).catch(() => {});
    throw err;
  }
}

/** Reads a small remote file; undefined when it does not exist. */
export async function readFileIfExists(pool: SshPool, path: string, opts: { sudo?: boolean; signal?: AbortSignal } = {}): Promise<string | undefined> {
  const root = opts.sudo ? pool.rootPrograms : undefined;
  if (root) {
    // As root only `cat` runs; whether the file exists is asked over SFTP (a stat needs no read right).
    if (!(await remoteExists(pool, path, opts.signal).catch(() => true))) return undefined;
    const r = await pool.exec([root.cat, '--', path], { sudo: true, timeoutMs: 15_000, signal: opts.signal });
    if (r.code !== 0 && /no such file/i.test(r.stderr)) return undefined;
    if (r.code !== 0) throw new Error(`cannot read ${path}: ${r.stderr.trim().slice(0, 200)}`);
    return r.stdout;
  }
  const r = await pool.exec(['/bin/sh', '-c', 'if [ -e "$1" ]; then cat -- "$1"; else exit 3; fi', 'sh', path], {
    timeoutMs: 15_000,
    signal: opts.signal,
  });
  if (r.code === 3) return undefined;
  if (r.code !== 0) throw new Error(`cannot read ${path}: ${r.stderr.trim().slice(0, 200)}`);
  return r.stdout;
}

export interface ReadSpec {
  path: string;
  /** Read at most this many bytes. */
  maxBytes: number;
  /** Read the END of the file (for append-only logs); the first partial line is dropped. */
  tail?: boolean;
}

/** SFTP status code for "no such file". */
const SFTP_NO_SUCH_FILE = 2;

/**
 * Reads several small files through the shared SFTP session, in parallel.
 * A missing file is undefined; any other failure rejects.
 */
export async function readSmallFiles(pool: SshPool, specs: ReadSpec[], signal?: AbortSignal): Promise<Array<string | undefined>> {
  const sftp = await pool.sharedSftp(signal);
  return Promise.all(specs.map((spec) => readOne(sftp, spec)));
}

async function readOne(sftp: SFTPWrapper, spec: ReadSpec): Promise<string | undefined> {
  let handle: Buffer;
  try {
    handle = await sftpCall<Buffer>((cb) => sftp.open(spec.path, 'r', cb));
  } catch (e) {
    if ((e as { code?: number }).code === SFTP_NO_SUCH_FILE) return undefined;
    throw e;
  }
  try {
    const st = await sftpCall<{ size: number }>((cb) => sftp.fstat(handle, cb));
    const size = st.size;
    const len = Math.min(size, spec.maxBytes);
    const start = spec.tail ? size - len : 0;
    const buf = Buffer.alloc(len);
    let off = 0;
    while (off < len) {
      const n = await new Promise<number>((resolve, reject) =>
        sftp.read(handle, buf, off, len - off, start + off, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead))),
      );
      if (n <= 0) break;
      off += n;
    }
    let text = buf.subarray(0, off).toString('utf8');
    if (spec.tail && start > 0) text = text.slice(text.indexOf('\n') + 1);
    return text;
  } finally {
    await sftpCall<void>((cb) => sftp.close(handle, cb)).catch(() => {});
  }
}

/**
 * Reads files whose size the NAS does not report (/proc/<pid>/cmdline: fstat
 * says 0), up to `maxBytes` each, through the shared SFTP session: no
 * process starts on the NAS. A missing file is undefined.
 */
export async function readProcFiles(pool: SshPool, paths: string[], maxBytes: number, signal?: AbortSignal): Promise<Array<string | undefined>> {
  const sftp = await pool.sharedSftp(signal);
  return Promise.all(
    paths.map(async (path) => {
      let handle: Buffer;
      try {
        handle = await sftpCall<Buffer>((cb) => sftp.open(path, 'r', cb));
      } catch (e) {
        if ((e as { code?: number }).code === SFTP_NO_SUCH_FILE) return undefined;
        throw e;
      }
      try {
        const buf = Buffer.alloc(maxBytes);
        const n = await new Promise<number>((resolve, reject) =>
          sftp.read(handle, buf, 0, maxBytes, 0, (err, bytesRead) => (err ? ((err as { code?: number }).code === 1 ? resolve(0) : reject(err)) : resolve(bytesRead))),
        );
        return buf.subarray(0, n).toString('latin1');
      } catch (e) {
        // The process ended between open and read.
        if ((e as { code?: number }).code === SFTP_NO_SUCH_FILE) return undefined;
        throw e;
      } finally {
        await sftpCall<void>((cb) => sftp.close(handle, cb)).catch(() => {});
      }
    }),
  );
}

/** Whether a remote path exists (shared SFTP session; no process on the NAS). */
export async function remoteExists(pool: SshPool, path: string, signal?: AbortSignal): Promise<boolean> {
  const sftp = await pool.sharedSftp(signal);
  try {
    await sftpCall((cb) => sftp.stat(path, cb));
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === SFTP_NO_SUCH_FILE) return false;
    throw e;
  }
}

/**
 * A waterfall of every NAS round trip an operation makes, for the
 * benchmarks: wraps one SSH pool and one Docker engine in place (exec and
 * run, SFTP sessions and shared-SFTP file reads, direct-tcpip probes, Engine
 * API calls) and records a span per call, labelled by what it ran and by
 * which of our functions asked for it (from the stack). Bench-only: the
 * product never loads this.
 */
import type { SFTPWrapper } from 'ssh2';
import type { DockerEngine } from '../src/docker/index.js';
import type { SshPool } from '../src/ssh/pool.js';

export interface Span {
  kind: 'exec' | 'sudo' | 'sftp-write' | 'sftp-read' | 'probe' | 'docker';
  what: string;
  caller: string;
  start: number;
  end: number;
}

/** The nearest of our own functions on the stack (skipping the pool, files and this file). */
function callerOf(stack: string | undefined): string {
  const names: string[] = [];
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /at (?:async )?([\w.<>$]+) \(.*\/src\/(bluegreen|ops|tools)\//.exec(line);
    if (m && !/^(Object\.|new Promise|Promise)/.test(m[1]!)) names.push(m[1]!);
    if (names.length === 2) break;
  }
  return names.join(' ← ') || '?';
}

/** A short name for an argv: the program, or the script's purpose. */
function describeArgv(argv: readonly string[]): string {
  if (argv[0] === '/bin/sh' && argv[1] === '-c') {
    const s = argv[2] ?? '';
    if (s.includes('nginx: ')) return 'list nginx processes (/proc)';
    if (s.includes('mkdir -- "$2"')) return 'lock: mkdir';
    if (s.includes('.beat-$$')) return 'lock: compare-and-swap details';
    if (s.includes('released-')) return 'lock: compare-and-delete';
    if (s.includes('printf "%s\\n" "$1" >> "$2"')) return 'history append';
    return `sh -c ${s.slice(0, 40).replace(/\n/g, ' ')}…`;
  }
  return argv.slice(0, 4).join(' ');
}

export class Tracer {
  readonly spans: Span[] = [];
  private on = false;

  start(): void {
    this.spans.length = 0;
    this.on = true;
  }

  stop(): Span[] {
    this.on = false;
    return [...this.spans].sort((a, b) => a.start - b.start);
  }

  private async record<T>(kind: Span['kind'], what: string, caller: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      if (this.on) this.spans.push({ kind, what, caller, start, end: performance.now() });
    }
  }

  wrapPool(pool: SshPool): void {
    const self = this;
    const exec = pool.exec.bind(pool);
    pool.exec = function (argv, opts = {}) {
      const caller = callerOf(new Error().stack);
      return self.record(opts.sudo ? 'sudo' : 'exec', describeArgv(argv), caller, () => exec(argv, opts));
    };
    const arm = pool.arm.bind(pool);
    pool.arm = function (argv, opts = {}) {
      const caller = callerOf(new Error().stack);
      const what = describeArgv(argv);
      const t0 = performance.now();
      const a = arm(argv, opts);
      a.armed.then(
        () => self.on && self.spans.push({ kind: opts.sudo ? 'sudo' : 'exec', what: `prepare (channel${opts.sudo ? ', sudo password check' : ''}): ${what}`, caller, start: t0, end: performance.now() }),
        () => {},
      );
      return {
        armed: a.armed,
        cancel: a.cancel,
        run: () => self.record(opts.sudo ? 'sudo' : 'exec', `run prepared: ${what}`, caller, () => a.run()),
      };
    };
    const withSftp = pool.withSftp.bind(pool);
    pool.withSftp = function <T>(fn: (s: SFTPWrapper) => Promise<T>, signal?: AbortSignal) {
      const caller = callerOf(new Error().stack);
      return self.record('sftp-write', 'SFTP session: write temp + rename', caller, () => withSftp(fn, signal));
    };
    const forward = pool.forward.bind(pool);
    pool.forward = async function (host, port, signal) {
      const caller = callerOf(new Error().stack);
      const start = performance.now();
      const s = await forward(host, port, signal);
      s.once('close', () => {
        if (self.on) self.spans.push({ kind: 'probe', what: `GET ${host}:${port}`, caller, start, end: performance.now() });
      });
      return s;
    };
    const shared = pool.sharedSftp.bind(pool);
    const patched = new WeakSet<SFTPWrapper>();
    pool.sharedSftp = async function (signal?: AbortSignal) {
      const caller = callerOf(new Error().stack);
      const sftp = await shared(signal);
      if (!patched.has(sftp)) {
        patched.add(sftp);
        // A read is open → fstat → read → close: one span from open to close, keyed by handle.
        const open = sftp.open.bind(sftp) as (...a: unknown[]) => unknown;
        const close = sftp.close.bind(sftp) as (...a: unknown[]) => unknown;
        const opened = new Map<string, { path: string; start: number; caller: string }>();
        // open(path, flags[, attrs], cb): writeFile passes attrs.
        (sftp as unknown as { open: unknown }).open = (path: string, ...rest: unknown[]) => {
          const cb = rest.pop() as (err: Error | undefined, h: Buffer) => void;
          const start = performance.now();
          const who = (sftp as unknown as { _caller?: string })._caller ?? '?';
          const write = typeof rest[0] === 'string' && rest[0] !== 'r';
          return open(path, ...rest, (err: Error | undefined, h: Buffer) => {
            if (write) {
              // A write (writeFile): its own span from open to close.
              if (!err) opened.set(h.toString('hex'), { path: `${path} (write)`, start, caller: who });
              return cb(err, h);
            }
            if (err) {
              if (self.on) self.spans.push({ kind: 'sftp-read', what: `read ${path.split('/').slice(-2).join('/')} (missing)`, caller: who, start, end: performance.now() });
            } else opened.set(h.toString('hex'), { path, start, caller: who });
            cb(err, h);
          });
        };
        (sftp as unknown as { close: unknown }).close = (h: Buffer, cb: (err?: Error) => void) =>
          close(h, (err?: Error) => {
            const o = opened.get(h.toString('hex'));
            opened.delete(h.toString('hex'));
            if (o && self.on) {
              const w = o.path.endsWith(' (write)');
              self.spans.push({ kind: w ? 'sftp-write' : 'sftp-read', what: `${w ? 'write' : 'read'} ${o.path.replace(' (write)', '').split('/').slice(-2).join('/')}`, caller: o.caller, start: o.start, end: performance.now() });
            }
            cb(err);
          });
      }
      (sftp as unknown as { _caller?: string })._caller = caller;
      return sftp;
    };
  }

  wrapDocker(docker: DockerEngine): void {
    const self = this;
    const d = docker as unknown as Record<string, unknown>;
    for (const name of ['inspect', 'start', 'stop', 'remove', 'create', 'logs', 'list', 'listContainers']) {
      const f = d[name];
      if (typeof f !== 'function') continue;
      const bound = (f as (...a: unknown[]) => Promise<unknown>).bind(docker);
      d[name] = function (...args: unknown[]) {
        const caller = callerOf(new Error().stack);
        return self.record('docker', `docker ${name} ${typeof args[0] === 'string' ? args[0] : ''}`.trim(), caller, () => bound(...args));
      };
    }
  }
}

/** The waterfall as a Markdown table: offset from t0, duration, kind, what, asked by. */
export function waterfall(spans: Span[], t0: number): string {
  const out = ['| at ms | took ms | kind | what | asked by |', '|---:|---:|---|---|---|'];
  // The cut-over watch polls /proc many times: one row for the whole run of polls.
  const polls = spans.filter((s) => s.caller.startsWith('lookBySftp'));
  const rest = spans.filter((s) => !s.caller.startsWith('lookBySftp'));
  if (polls.length) {
    const a = Math.min(...polls.map((s) => s.start));
    const b = Math.max(...polls.map((s) => s.end));
    rest.push({ kind: 'sftp-read', what: `watch nginx's old workers: ${polls.length} reads of /proc/<pid>/{children,cmdline}`, caller: 'waitCutover', start: a, end: b });
    rest.sort((x, y) => x.start - y.start);
  }
  for (const s of rest) out.push(`| ${(s.start - t0).toFixed(0)} | ${(s.end - s.start).toFixed(1)} | ${s.kind} | ${s.what} | ${s.caller} |`);
  return out.join('\n');
}

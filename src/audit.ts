/**
 * Audit trail: one record per tool call (ok, error or denied), to the log
 * (info) and, when `log.auditFile` is set, as a JSON line appended to that
 * file. Writes are queued: a call never waits for the disk, and a failed
 * write is retried with the next one rather than dropped.
 */
import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger, SecretScrubber } from './log.js';
import type { Caller } from './tools/types.js';

export type AuditOutcome = 'ok' | 'error' | 'denied';

export interface AuditRecord {
  ts: string;
  caller: string;
  transport: Caller['transport'];
  sessionId?: string;
  client?: string;
  tool: string;
  /** Arguments with secrets redacted (by key name and by value) and long strings cut. */
  args: unknown;
  outcome: AuditOutcome;
  /** Error message (scrubbed) for `error` / `denied`. */
  error?: string;
  /** ToolError code, when one was given. */
  code?: string;
  durationMs: number;
}

/** Keys whose values are never recorded. */
const SECRET_KEY_RE = /passw(or)?d|passphrase|secret|token|authorization|cookie|credential|private.?key|api.?key/i;
const MAX_STRING = 1_000;
const MAX_DEPTH = 6;
/** Records kept in memory while the disk refuses them; beyond this the oldest are dropped (and that is logged). */
const MAX_PENDING = 10_000;
/** The newest records kept in memory for `recent` (what the loop-ops://audit resource shows without a file). */
const RECENT_KEPT = 500;
/** How much of the file's end `recent` reads. */
const TAIL_BYTES = 1024 * 1024;

/** Redacts an arguments object for the audit trail. */
export function redactArgs(value: unknown, scrubber: SecretScrubber, depth = 0): unknown {
  if (typeof value === 'string') {
    const s = scrubber.scrub(value);
    return s.length > MAX_STRING ? `${s.slice(0, MAX_STRING)}…[${s.length - MAX_STRING} more chars]` : s;
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redactArgs(v, scrubber, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEY_RE.test(k) ? '[redacted]' : redactArgs(v, scrubber, depth + 1);
  }
  return out;
}

export interface AuditLogOptions {
  log: Logger;
  /** JSON-lines file; none → log only. */
  file?: string;
}

export class AuditLog {
  private readonly log: Logger;
  private readonly file?: string;
  private pending: string[] = [];
  private writing: Promise<void> | null = null;
  private dirReady = false;
  private failures = 0;

  constructor(opts: AuditLogOptions) {
    this.log = opts.log;
    this.file = opts.file;
  }

  private readonly kept: AuditRecord[] = [];

  record(rec: AuditRecord): void {
    this.kept.push(rec);
    if (this.kept.length > RECENT_KEPT) this.kept.splice(0, this.kept.length - RECENT_KEPT);
    const level = rec.outcome === 'ok' ? 'info' : 'warn';
    this.log[level]({ audit: rec }, `tool ${rec.tool} ${rec.outcome} (${rec.durationMs} ms)`);
    if (!this.file) return;
    this.pending.push(`${JSON.stringify(rec)}\n`);
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.length - MAX_PENDING;
      this.pending.splice(0, dropped);
      this.log.error({ dropped, file: this.file }, 'audit file unwritable for too long: oldest records dropped');
    }
    this.kick();
  }

  /**
   * The newest records, newest first, at most `limit`: from the file's end
   * when there is a file (it outlives restarts), else from memory.
   */
  async recent(limit: number): Promise<AuditRecord[]> {
    const n = Math.max(0, Math.floor(limit));
    if (n === 0) return [];
    if (this.file) {
      await this.flush();
      const fromFile = await readTail(this.file, TAIL_BYTES).catch(() => undefined);
      if (fromFile !== undefined) {
        const recs: AuditRecord[] = [];
        for (const line of fromFile.split('\n')) {
          try {
            const r = JSON.parse(line) as AuditRecord;
            if (r && typeof r.ts === 'string' && typeof r.tool === 'string') recs.push(r);
          } catch {
            // the first line of a tail is usually cut: skip it
          }
        }
        return recs.reverse().slice(0, n);
      }
    }
    return this.kept.slice(-n).reverse();
  }

  /** Resolves when every record so far has been written (or the disk refused it; see the log). */
  async flush(): Promise<void> {
    this.kick(); // one more attempt for records a failed write left behind
    while (this.writing) await this.writing;
  }

  private kick(): void {
    if (this.writing || !this.pending.length) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
    });
  }

  private async drain(): Promise<void> {
    const file = this.file!;
    while (this.pending.length) {
      const batch = this.pending;
      this.pending = [];
      try {
        if (!this.dirReady) {
          await mkdir(dirname(file), { recursive: true, mode: 0o700 });
          this.dirReady = true;
        }
        await appendFile(file, batch.join(''), { mode: 0o600 });
        this.failures = 0;
      } catch (e) {
        // Keep the batch for the next attempt (the next record, or flush on shutdown).
        this.pending = batch.concat(this.pending);
        this.failures++;
        if (this.failures === 1 || this.failures % 100 === 0) {
          this.log.error(
            { err: { code: (e as NodeJS.ErrnoException).code, message: (e as Error).message }, file, pending: this.pending.length },
            'cannot append to the audit file; records kept in memory',
          );
        }
        return;
      }
    }
  }
}

async function readTail(file: string, maxBytes: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const start = Math.max(0, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    await fh.read(buf, 0, buf.length, start);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

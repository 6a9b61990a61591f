/**
 * The journal of the current (or last) operation, and the deployment history.
 *
 * - journal.json is replaced atomically (temp file + rename) at every phase,
 *   so a deploy cut off half-way leaves a whole, readable last phase.
 * - history.jsonl gets one line per finished operation, appended with a
 *   single write(2) of less than PIPE_BUF bytes on an O_APPEND descriptor
 *   (`printf "%s\n" "$1" >> "$2"`), which concurrent appenders cannot
 *   interleave or tear. It is kept bounded: past MAX lines it is rewritten
 *   (temp file + rename) with the last KEEP lines.
 */
import type { SshPool } from '../ssh/pool.js';
import { readSmallFiles, writeFileAtomic } from '../ssh/files.js';
import { ensureStateDir } from './commands.js';
import { assertStateDir, historyFile, journalFile, parseJson, parseJsonLines } from './nas-state.js';
import type { HistoryRecord, JournalEntry, OperationKind } from './types.js';

/** A history line (JSON + newline) stays below this, so one write(2) appends it whole (PIPE_BUF is 4096). */
export const HISTORY_LINE_MAX_BYTES = 3500;
/** Past this many lines the history is trimmed… */
export const HISTORY_MAX_LINES = 1000;
/** …to this many (the newest). */
export const HISTORY_KEEP_LINES = 500;

const JOURNAL_MAX_BYTES = 256 * 1024;
const SFTP_NO_SUCH_FILE = 2;

// ---------------------------------------------------------------- journal

export function serializeJournal(entry: JournalEntry): string {
  return `${JSON.stringify(entry, null, 2)}\n`;
}

function isJournalEntry(v: unknown): v is JournalEntry {
  if (!v || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.operationId === 'string' &&
    typeof e.kind === 'string' &&
    typeof e.phase === 'string' &&
    typeof e.startedAt === 'string' &&
    typeof e.updatedAt === 'string' &&
    typeof e.finished === 'boolean' &&
    !!e.detail &&
    typeof e.detail === 'object' &&
    !Array.isArray(e.detail)
  );
}

/** Parses journal.json; undefined for a missing, torn or foreign file. */
export function parseJournal(text: string | undefined): JournalEntry | undefined {
  const v = parseJson<unknown>(text);
  return isJournalEntry(v) ? v : undefined;
}

const isNoSuchFile = (err: unknown) => (err as { code?: unknown } | null)?.code === SFTP_NO_SUCH_FILE;

/** writeFileAtomic, creating the state dir once if it is missing. */
async function writeStateFile(pool: SshPool, stateDir: string, path: string, content: string): Promise<void> {
  try {
    await writeFileAtomic(pool, path, content, { mode: 0o644 });
  } catch (err) {
    if (!isNoSuchFile(err)) throw err;
    await pool.run(ensureStateDir(stateDir).argv, { timeoutMs: 15_000 });
    await writeFileAtomic(pool, path, content, { mode: 0o644 });
  }
}

export async function writeJournal(pool: SshPool, stateDir: string, entry: JournalEntry): Promise<void> {
  const dir = assertStateDir(stateDir);
  await writeStateFile(pool, dir, journalFile(dir), serializeJournal(entry));
}

/** The journal, or undefined when there is none or it cannot be parsed. */
export async function readJournal(pool: SshPool, stateDir: string, signal?: AbortSignal): Promise<JournalEntry | undefined> {
  const dir = assertStateDir(stateDir);
  const [text] = await readSmallFiles(pool, [{ path: journalFile(dir), maxBytes: JOURNAL_MAX_BYTES }], signal);
  return parseJournal(text);
}

export type FinalPhase = 'done' | 'failed' | 'rolled_back' | 'recovered';

/**
 * The journal of one operation, as the engine drives it. Writes are
 * serialised in call order; each write replaces journal.json whole.
 */
export class Journal {
  private current: JournalEntry;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly pool: SshPool,
    private readonly stateDir: string,
    init: { operationId: string; kind: OperationKind; detail?: Record<string, string>; phase?: string; startedAt?: string },
  ) {
    assertStateDir(stateDir);
    const now = new Date().toISOString();
    this.current = {
      operationId: init.operationId,
      kind: init.kind,
      phase: init.phase ?? 'start',
      startedAt: init.startedAt ?? now,
      updatedAt: now,
      finished: false,
      detail: { ...(init.detail ?? {}) },
    };
  }

  /** Continues an existing entry (recovery of an interrupted operation). */
  static resume(pool: SshPool, stateDir: string, entry: JournalEntry): Journal {
    const j = new Journal(pool, stateDir, entry);
    j.current = { ...entry, detail: { ...entry.detail } };
    return j;
  }

  /** A copy of the entry as last set. */
  get entry(): JournalEntry {
    return { ...this.current, detail: { ...this.current.detail } };
  }

  /** Enters a phase: merges `detail`, stamps updatedAt, writes the journal. */
  phase(name: string, detail: Record<string, string> = {}): Promise<void> {
    return this.update(name, detail, false);
  }

  /** Ends the operation in a final phase (finished: true). */
  finish(phase: FinalPhase, detail: Record<string, string> = {}): Promise<void> {
    return this.update(phase, detail, true);
  }

  /** Stamps the heartbeat (same phase) and writes the journal. */
  beat(at: string): Promise<void> {
    return this.update(this.current.phase, {}, this.current.finished, at);
  }

  private update(phase: string, detail: Record<string, string>, finished: boolean, beatAt?: string): Promise<void> {
    const now = new Date().toISOString();
    this.current = {
      ...this.current,
      phase,
      updatedAt: beatAt ? this.current.updatedAt : now,
      heartbeatAt: beatAt ?? now,
      finished,
      detail: { ...this.current.detail, ...detail },
    };
    const snapshot = serializeJournal(this.current);
    const dir = this.stateDir;
    const write = () => writeStateFile(this.pool, dir, journalFile(dir), snapshot);
    // Keep order even if an earlier write failed (its caller got that error).
    const p = this.chain.then(write, write);
    this.chain = p.catch(() => {});
    return p;
  }
}

// ---------------------------------------------------------------- history

const TRUNC_MARK = '…[truncated]';

function byteLen(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Cuts a string to at most `maxChars` characters (code points, so no surrogate pair is split). */
function cutChars(s: string, maxChars: number): string {
  const chars = Array.from(s);
  return chars.length <= maxChars ? s : chars.slice(0, maxChars).join('');
}

/**
 * The history line for a record (JSON, no newline), shortened to fit
 * HISTORY_LINE_MAX_BYTES with its newline: first `message` is truncated,
 * then (for absurd inputs) the other free-text fields.
 */
export function historyLine(rec: HistoryRecord): string {
  const limit = HISTORY_LINE_MAX_BYTES - 1; // the newline
  let line = JSON.stringify(rec);
  if (byteLen(line) <= limit) return line;
  const r: HistoryRecord = { ...rec };
  // Absurdly long other fields (not the message) would leave no room: cap them first.
  if (byteLen(JSON.stringify({ ...r, message: null })) > limit - 512) {
    for (const k of ['image', 'version', 'commit', 'who', 'id', 'outcome'] as const) {
      const v = r[k];
      if (typeof v === 'string' && byteLen(v) > 256) (r as unknown as Record<string, string>)[k] = cutChars(v, 200) + TRUNC_MARK;
    }
  }
  if (typeof r.message === 'string') {
    // JSON escaping can make one character 6 bytes (\u0001): search the longest prefix that fits.
    const chars = Array.from(r.message);
    const withPrefix = (k: number) => JSON.stringify({ ...r, message: chars.slice(0, k).join('') + (k < chars.length ? TRUNC_MARK : '') });
    let lo = 0;
    let hi = chars.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (byteLen(withPrefix(mid)) <= limit) lo = mid;
      else hi = mid - 1;
    }
    line = withPrefix(lo);
  } else {
    line = JSON.stringify(r);
  }
  if (byteLen(line) > limit) throw new Error(`history record ${rec.id.slice(0, 80)} cannot be shortened below ${HISTORY_LINE_MAX_BYTES} bytes`);
  return line;
}

/**
 * Appends `$1` and a newline to `$2` in one printf (one write(2) for < PIPE_BUF
 * bytes, atomic with O_APPEND), then trims the file to the last `$4` lines
 * once it has more than `$3` (temp file + rename). Prints "trimmed" if it did.
 * Creates the state dir `$5` if it is missing.
 */
export function appendHistoryArgv(stateDir: string, line: string): string[] {
  const dir = assertStateDir(stateDir);
  if (line.includes('\n')) throw new Error('a history line must not contain a newline');
  if (byteLen(line) + 1 > HISTORY_LINE_MAX_BYTES) throw new Error(`a history line must be below ${HISTORY_LINE_MAX_BYTES} bytes`);
  const file = historyFile(dir);
  return [
    '/bin/sh',
    '-c',
    [
      '[ -d "$5" ] || mkdir -p "$5" || exit 1',
      'printf "%s\\n" "$1" >> "$2" || exit 1',
      'n=$(wc -l < "$2") || exit 0',
      'n=$((n + 0))',
      'if [ "$n" -gt "$3" ]; then',
      '  t="$5/.history.jsonl.trim-$$"',
      '  if tail -n "$4" "$2" > "$t" && mv -f "$t" "$2"; then echo trimmed; else rm -f "$t"; exit 2; fi',
      'fi',
    ].join('\n'),
    'sh',
    line,
    file,
    String(HISTORY_MAX_LINES),
    String(HISTORY_KEEP_LINES),
    dir,
  ];
}

export async function appendHistory(pool: SshPool, stateDir: string, rec: HistoryRecord): Promise<{ trimmed: boolean }> {
  const dir = assertStateDir(stateDir);
  const argv = appendHistoryArgv(dir, historyLine(rec));
  const r = await pool.exec(argv, { timeoutMs: 15_000 });
  if (r.code === 2) {
    // The line is in; only the trim failed. Not worth failing the operation for.
    return { trimmed: false };
  }
  if (r.code !== 0) throw new Error(`cannot append to ${historyFile(dir)}: ${r.stderr.trim().slice(0, 300) || `exit ${r.code ?? r.signal}`}`);
  return { trimmed: r.stdout.includes('trimmed') };
}

function isHistoryRecord(v: unknown): v is HistoryRecord {
  if (!v || typeof v !== 'object') return false;
  const h = v as Record<string, unknown>;
  return typeof h.id === 'string' && typeof h.kind === 'string' && typeof h.startedAt === 'string' && typeof h.outcome === 'string';
}

/** Parses history text into records, newest first, at most `limit`. Torn or foreign lines are skipped. */
export function parseHistory(text: string | undefined, limit: number): HistoryRecord[] {
  return parseJsonLines<unknown>(text).filter(isHistoryRecord).reverse().slice(0, Math.max(0, limit));
}

/** The last `limit` history records, newest first. */
export async function readHistory(pool: SshPool, stateDir: string, limit: number, signal?: AbortSignal): Promise<HistoryRecord[]> {
  const dir = assertStateDir(stateDir);
  const n = Math.max(0, Math.min(Math.floor(limit), HISTORY_MAX_LINES + 1));
  if (n === 0) return [];
  const [text] = await readSmallFiles(pool, [{ path: historyFile(dir), maxBytes: (n + 1) * HISTORY_LINE_MAX_BYTES, tail: true }], signal);
  return parseHistory(text, n);
}

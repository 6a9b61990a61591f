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
import {
  assertStateDir,
  HISTORY_KEEP_LINES,
  HISTORY_LINE_MAX_BYTES,
  HISTORY_MAX_LINES,
  historyFile,
  historyLine,
  journalFile,
  parseHistory,
  parseJournal,
  serializeJournal,
  type HistoryRecord,
  type JournalEntry,
  type OperationKind,
} from '../domain/index.js';

const JOURNAL_MAX_BYTES = 256 * 1024;
const SFTP_NO_SUCH_FILE = 2;

// ---------------------------------------------------------------- journal

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

function byteLen(s: string): number {
  return Buffer.byteLength(s, 'utf8');
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

/** The last `limit` history records, newest first. */
export async function readHistory(pool: SshPool, stateDir: string, limit: number, signal?: AbortSignal): Promise<HistoryRecord[]> {
  const dir = assertStateDir(stateDir);
  const n = Math.max(0, Math.min(Math.floor(limit), HISTORY_MAX_LINES + 1));
  if (n === 0) return [];
  const [text] = await readSmallFiles(pool, [{ path: historyFile(dir), maxBytes: (n + 1) * HISTORY_LINE_MAX_BYTES, tail: true }], signal);
  return parseHistory(text, n);
}

/**
 * What loop-ops keeps on the NAS, where, and how it reads back. State lives
 * under `config.state.dir`, never only in this process:
 *
 *   lock/                 mkdir-atomic deploy lock; lock/details.json says who/what/when
 *   journal.json          phases of the current (or last) operation, replaced atomically
 *   history.jsonl         one line per finished operation (deployment history)
 *   previous-stop.json    when the color traffic left gets stopped (deploy.keepPrevious)
 *   upstream.prev         the nginx upstream before our last switch (restored on a bad switch)
 *
 * plus the nginx upstream include itself, whose path is configuration
 * (`nginx.upstreamFile`). The parsers are tolerant: `status` must still
 * answer when a file is torn, missing or foreign. Reading and writing these
 * files over SSH is the engine's job (src/bluegreen); this module is pure.
 */
import { posix } from 'node:path';
import type { Color, ColorPorts } from './app.js';

// ---------------------------------------------------------------- paths

/**
 * Refuses state dirs that would make `rm -rf <stateDir>/lock` dangerous or
 * ambiguous: not absolute, not normalised, the root, NUL/newline.
 */
export function assertStateDir(stateDir: string): string {
  if (typeof stateDir !== 'string' || !stateDir.startsWith('/')) throw new Error(`state dir must be an absolute path: ${String(stateDir)}`);
  if (/[\0\n]/.test(stateDir)) throw new Error('state dir must not contain NUL or newline');
  const norm = posix.normalize(stateDir).replace(/\/+$/, '');
  if (norm === '' || norm === '/') throw new Error('state dir must not be the root directory');
  if (norm !== stateDir.replace(/\/+$/, '')) throw new Error(`state dir must be a normalised path (got ${stateDir}, i.e. ${norm})`);
  return norm;
}

export const lockDir = (stateDir: string) => posix.join(stateDir, 'lock');
export const lockDetailsFile = (stateDir: string) => posix.join(stateDir, 'lock', 'details.json');
export const journalFile = (stateDir: string) => posix.join(stateDir, 'journal.json');
export const historyFile = (stateDir: string) => posix.join(stateDir, 'history.jsonl');
export const previousStopFile = (stateDir: string) => posix.join(assertStateDir(stateDir), 'previous-stop.json');
export const upstreamPrevFile = (stateDir: string) => posix.join(assertStateDir(stateDir), 'upstream.prev');

// ---------------------------------------------------------------- tolerant JSON

/** Parses JSON lines, skipping any torn or corrupt line rather than failing `status`. */
export function parseJsonLines<T>(text: string | undefined): T[] {
  if (!text) return [];
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      /* a half-written last line after a crash: ignore it */
    }
  }
  return out;
}

export function parseJson<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- records

export type OperationKind = 'deploy' | 'rollback' | 'restart' | 'stop' | 'reset_oauth' | 'restore_oauth' | 'recover';

/** Written to lock/details.json when the lock is taken. */
export interface LockDetails {
  operationId: string;
  operation: OperationKind;
  /** Who asked: caller id (token fingerprint, OAuth client, stdio user). */
  holder: string;
  /** ISO time the lock was taken. */
  since: string;
  /** Host name and PID of the server process that holds it (to tell a dead holder). */
  host: string;
  pid: number;
  /**
   * ISO time of the holder's last heartbeat (refreshed every
   * deploy.heartbeatIntervalMs while the operation runs). Informational:
   * staleness is judged by the NAS's own clock on the file's mtime, so a
   * holder with a skewed clock is not misjudged.
   */
  heartbeatAt?: string;
}

/** One phase of an operation, as recorded in the journal. */
export interface JournalEntry {
  operationId: string;
  kind: OperationKind;
  /** The current phase name (e.g. 'build', 'start', 'health', 'switch', 'verify', 'done', 'failed'). */
  phase: string;
  startedAt: string;
  updatedAt: string;
  /** ISO time of the running operation's last heartbeat (see LockDetails.heartbeatAt). */
  heartbeatAt?: string;
  /** True once the operation reached a final phase (done, failed, rolled_back). */
  finished: boolean;
  /** Facts a recovery needs: fromColor, toColor, image, container, previousUpstream… (strings only). */
  detail: Record<string, string>;
}

/** One line of history.jsonl (also what `status` shows as recent deployments). */
export interface HistoryRecord {
  id: string;
  kind: OperationKind;
  fromColor: Color | null;
  toColor: Color | null;
  image: string | null;
  version: string | null;
  commit: string | null;
  who: string | null;
  startedAt: string;
  endedAt: string | null;
  /** succeeded | failed | rolled_back | recovered | cancelled */
  outcome: string;
  message: string | null;
}

/** A scheduled stop of the color traffic left (previous-stop.json). */
export interface PreviousStop {
  container: string;
  color: Color;
  /** The deployment label of that container when the stop was scheduled. */
  deploymentId: string | null;
  /** ISO time after which it is stopped. */
  stopAt: string;
  /** The operation that scheduled it. */
  setBy: string;
}

// ---------------------------------------------------------------- lock details

export function serializeLockDetails(details: LockDetails): string {
  return `${JSON.stringify(details)}\n`;
}

function isLockDetails(v: unknown): v is LockDetails {
  if (!v || typeof v !== 'object') return false;
  const d = v as Record<string, unknown>;
  return typeof d.operationId === 'string' && typeof d.operation === 'string' && typeof d.holder === 'string' && typeof d.since === 'string';
}

export function parseLockDetails(text: string | undefined): LockDetails | undefined {
  const v = parseJson<unknown>(text);
  return isLockDetails(v) ? v : undefined;
}

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

// ---------------------------------------------------------------- history

/** A history line (JSON + newline) stays below this, so one write(2) appends it whole (PIPE_BUF is 4096). */
export const HISTORY_LINE_MAX_BYTES = 3500;
/** Past this many lines the history is trimmed… */
export const HISTORY_MAX_LINES = 1000;
/** …to this many (the newest). */
export const HISTORY_KEEP_LINES = 500;

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

function isHistoryRecord(v: unknown): v is HistoryRecord {
  if (!v || typeof v !== 'object') return false;
  const h = v as Record<string, unknown>;
  return typeof h.id === 'string' && typeof h.kind === 'string' && typeof h.startedAt === 'string' && typeof h.outcome === 'string';
}

/** Parses history text into records, newest first, at most `limit`. Torn or foreign lines are skipped. */
export function parseHistory(text: string | undefined, limit: number): HistoryRecord[] {
  return parseJsonLines<unknown>(text).filter(isHistoryRecord).reverse().slice(0, Math.max(0, limit));
}

// ---------------------------------------------------------------- previous stop

export function parsePreviousStop(text: string | undefined): PreviousStop | undefined {
  const v = parseJson<Record<string, unknown>>(text);
  if (!v || typeof v !== 'object') return undefined;
  if (typeof v.container !== 'string' || (v.color !== 'blue' && v.color !== 'green') || typeof v.stopAt !== 'string' || Number.isNaN(Date.parse(v.stopAt))) return undefined;
  return {
    container: v.container,
    color: v.color,
    deploymentId: typeof v.deploymentId === 'string' ? v.deploymentId : null,
    stopAt: v.stopAt,
    setBy: typeof v.setBy === 'string' ? v.setBy : 'unknown',
  };
}

// ---------------------------------------------------------------- nginx upstream

/*
 * The nginx upstream include that decides which color serves traffic. We
 * render it ourselves and read it back from the NAS, so "which color is live"
 * is always what the file on the NAS says, never what we remember.
 */

export interface UpstreamInfo {
  /** The color whose port the active `server` line names; undefined if none matches. */
  color: Color | undefined;
  /** The raw targets of the active server lines, e.g. ["127.0.0.1:18081"]. */
  servers: string[];
  /** Deployment id recorded in our header comment, if any. */
  deploymentId: string | undefined;
}

export function parseUpstream(text: string, ports: ColorPorts): UpstreamInfo {
  const servers: string[] = [];
  let deploymentId: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^#\s*loop-ops:.*\bdeployment=([A-Za-z0-9_.:-]+)/.exec(line);
    if (header) deploymentId = header[1];
    if (line.startsWith('#')) continue;
    const m = /^server\s+([^\s;]+)[^;]*;/.exec(line);
    if (m && !/\bbackup\b|\bdown\b/.test(line)) servers.push(m[1]!);
  }
  const portOf = (s: string) => Number(/:(\d+)$/.exec(s)?.[1]);
  const colors = new Set(
    servers.map((s) => (portOf(s) === ports.blue ? 'blue' : portOf(s) === ports.green ? 'green' : undefined)),
  );
  const color = colors.size === 1 ? [...colors][0] : undefined;
  return { color, servers, deploymentId };
}

export function renderUpstream(o: { app: string; color: Color; ports: ColorPorts; deploymentId: string; at: Date }): string {
  return [
    `# loop-ops: managed by loop-ops-mcp; live color of ${o.app}. Do not edit by hand.`,
    `# loop-ops: color=${o.color} deployment=${o.deploymentId} at=${o.at.toISOString()}`,
    `server 127.0.0.1:${o.ports[o.color]};`,
    '',
  ].join('\n');
}

/**
 * Everything `status` needs from the NAS's files, read in ONE remote command
 * (no sudo): the nginx upstream in place, the deploy lock, the journal of the
 * operation in progress, and the last deployments. One exec over a pooled
 * connection costs a few ms; five would cost five times that.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';

export interface StateLayout {
  upstreamFile: string;
  stateDir: string;
}

export const lockDir = (stateDir: string) => posix.join(stateDir, 'lock');
export const lockDetailsFile = (stateDir: string) => posix.join(stateDir, 'lock', 'details.json');
export const journalFile = (stateDir: string) => posix.join(stateDir, 'journal.json');
export const historyFile = (stateDir: string) => posix.join(stateDir, 'history.jsonl');

const SECTIONS = ['upstream', 'lock', 'journal', 'history'] as const;
type Section = (typeof SECTIONS)[number];

export function snapshotArgv(layout: StateLayout, historyLines: number, boundary = randomBytes(8).toString('hex')): { argv: string[]; boundary: string } {
  const script = [
    'b="$1"',
    // Each marker starts on a fresh line even if a file lacks its final newline.
    'echo "$b upstream"; cat -- "$2" 2>/dev/null',
    'printf \'\\n%s lock\\n\' "$b"; cat -- "$3" 2>/dev/null',
    'printf \'\\n%s journal\\n\' "$b"; cat -- "$4" 2>/dev/null',
    'printf \'\\n%s history\\n\' "$b"; tail -n "$6" -- "$5" 2>/dev/null',
    'printf \'\\n%s end\\n\' "$b"',
  ].join('; ');
  return {
    boundary,
    argv: [
      '/bin/sh',
      '-c',
      script,
      'sh',
      boundary,
      layout.upstreamFile,
      lockDetailsFile(layout.stateDir),
      journalFile(layout.stateDir),
      historyFile(layout.stateDir),
      String(historyLines),
    ],
  };
}

export type Snapshot = Record<Section, string | undefined> & { complete: boolean };

/** Splits the snapshot output; a section with no content is undefined. */
export function parseSnapshot(stdout: string, boundary: string): Snapshot {
  const out: Snapshot = { upstream: undefined, lock: undefined, journal: undefined, history: undefined, complete: false };
  let current: Section | undefined;
  let buf: string[] = [];
  const flush = () => {
    if (current) {
      const text = buf.join('\n').replace(/\n+$/, '');
      out[current] = text.trim() === '' ? undefined : text;
    }
    buf = [];
  };
  for (const line of stdout.split('\n')) {
    if (line.startsWith(`${boundary} `)) {
      flush();
      const name = line.slice(boundary.length + 1);
      if (name === 'end') {
        out.complete = true;
        current = undefined;
        break;
      }
      current = (SECTIONS as readonly string[]).includes(name) ? (name as Section) : undefined;
      continue;
    }
    if (current) buf.push(line);
  }
  flush();
  return out;
}

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

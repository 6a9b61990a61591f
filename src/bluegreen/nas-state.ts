/**
 * Where our state lives on the NAS (lock, journal, deployment history), and
 * tolerant parsers for it: `status` must still answer when a file is torn.
 */
import { posix } from 'node:path';

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

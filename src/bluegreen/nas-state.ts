/**
 * Where our state lives on the NAS (lock, journal, deployment history), and
 * tolerant parsers for it: `status` must still answer when a file is torn.
 */
import { posix } from 'node:path';

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

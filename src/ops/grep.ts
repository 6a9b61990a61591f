/**
 * `grep` for log lines that no pattern can turn against the server.
 *
 * Regexes run on RE2JS (a pure-JS port of RE2): matching time grows linearly
 * with the text, whatever the pattern, so the `(a+)+`/`((.)+)+#` family that
 * makes a backtracking engine run for hours is just another pattern here.
 * Linear can still be large (a pattern that compiles to thousands of
 * instructions, 20 000 lines of 10 000 characters), so the program size is
 * capped, the lines are filtered in slices that give the event loop back
 * between them, and a time budget ends a grep that would take too long.
 */
import { RE2JS } from 're2js';
import { LogsInputError } from './logs-errors.js';

/** A compiled grep: plain text (case-insensitive) or an RE2 regex. */
export type LineTest = (line: string) => boolean;

export const MAX_PATTERN_CHARS = 200;
/** RE2 program instructions; keeps one line's match to tens of milliseconds at worst. */
export const MAX_PROGRAM_SIZE = 300;
/** Characters of a line a regex looks at (the start of a giant line is what matters). */
export const REGEX_LINE_CHARS = 10_000;

export function compileGrep(pattern: string, regex: boolean): LineTest {
  if (!regex) {
    const needle = pattern.toLowerCase();
    return (s) => s.toLowerCase().includes(needle);
  }
  if (pattern.length > MAX_PATTERN_CHARS) throw new LogsInputError(`regex too long (max ${MAX_PATTERN_CHARS} characters)`);
  // RE2 has no backreferences; say so plainly rather than "invalid escape".
  if (/\\[1-9]|\\k</.test(pattern)) throw new LogsInputError('backreferences are not allowed in grep (RE2 syntax)');
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE);
  } catch (e) {
    const msg = (e as Error).message.replace(/^error parsing regexp: /, '');
    throw new LogsInputError(`invalid regex (RE2 syntax: no backreferences or lookaround): ${msg}`);
  }
  if (re.programSize() > MAX_PROGRAM_SIZE) {
    throw new LogsInputError(
      `regex too complex (${re.programSize()} RE2 instructions, max ${MAX_PROGRAM_SIZE}): use smaller repeat counts like {n}`,
    );
  }
  return (s) => re.test(s.length > REGEX_LINE_CHARS ? s.slice(0, REGEX_LINE_CHARS) : s);
}

export class GrepTooSlowError extends LogsInputError {}

export interface FilterOptions {
  signal?: AbortSignal;
  /** Whole-grep budget; past it the grep fails with "pattern too slow". */
  budgetMs?: number;
  /** Work done before giving the event loop a turn. */
  sliceMs?: number;
}

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/**
 * The lines for which `test` holds, in order. Never holds the event loop
 * longer than one slice (plus one line's match).
 */
export async function filterLines<T>(items: readonly T[], text: (item: T) => string, test: LineTest, opts: FilterOptions = {}): Promise<T[]> {
  const budgetMs = opts.budgetMs ?? 10_000;
  const sliceMs = opts.sliceMs ?? 10;
  const out: T[] = [];
  const started = performance.now();
  let sliceStart = started;
  for (let i = 0; i < items.length; i++) {
    if (test(text(items[i]!))) out.push(items[i]!);
    const now = performance.now();
    if (now - sliceStart >= sliceMs) {
      if (now - started >= budgetMs) {
        throw new GrepTooSlowError(
          `pattern too slow: grep gave up after ${Math.round(budgetMs / 1000)} s at line ${i + 1} of ${items.length}; ` +
            'use a simpler pattern, plain text (regex: false), fewer lines or a narrower since',
        );
      }
      opts.signal?.throwIfAborted();
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return out;
}

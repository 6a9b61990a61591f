/**
 * Regexes that make a backtracking engine (V8's RegExp) run for hours on a
 * short line, each with such a line and whether it matches (RE2 semantics).
 */
export const CATASTROPHIC: Array<{ pattern: string; line: string; matches: boolean }> = [
  { pattern: '((.)+)+#', line: 'x'.repeat(40), matches: false },
  { pattern: '(.|.)+$', line: `${'x'.repeat(40)}\u2028`, matches: true },
  { pattern: '(\\w|\\w)+!', line: 'a'.repeat(40), matches: false },
  { pattern: '(a|aa)+$', line: `${'a'.repeat(40)}b`, matches: false },
  { pattern: '(a+)+b', line: 'a'.repeat(40), matches: false },
  { pattern: '(a*)*b', line: 'a'.repeat(40), matches: false },
  { pattern: '(x+x+)+y', line: 'x'.repeat(40), matches: false },
  { pattern: '^(([a-z])+.)+[A-Z]([a-z])+$', line: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', matches: false },
  { pattern: '(\\d+)*\\.\\d+x', line: `${'1'.repeat(40)}.1`, matches: false },
];


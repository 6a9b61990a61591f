/**
 * Command-line flags derived from a tool's input schema, so the human CLI
 * never restates what the tool definitions say:
 *
 * - field `snake_case` → flag `--kebab-case`;
 * - boolean → `--flag` and `--no-flag` (the usage shows the one that changes
 *   the default);
 * - integer / number → a string option parsed as a number (a whole number
 *   for integers), bounds left to the schema;
 * - enum → its values in the usage (`--stream both|stdout|stderr`);
 * - everything else → a string option.
 *
 * Validation stays with the schema (the one the MCP face uses): this module
 * only turns text into typed values.
 */
import type { ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import type { Shape } from '../tools/types.js';

export class HumanUsageError extends Error {}

export type FlagKind = 'boolean' | 'integer' | 'number' | 'string';

export interface FlagSpec {
  /** The tool's input field. */
  field: string;
  /** `--kebab-case`, without the dashes. */
  name: string;
  kind: FlagKind;
  /** Allowed values (enum fields). */
  choices?: string[];
  /** The schema's default, when it has one. */
  default?: unknown;
  description: string;
  /** No default and not optional: the schema wants it. */
  required: boolean;
  /** One-letter alias. */
  short?: string;
  /** What the usage shows for the value (`N`, `TEXT`, `a|b`). */
  metavar: string;
}

export interface FlagOptions {
  /** Fields the CLI sets itself (not flags). */
  hidden?: readonly string[];
  /** field → one-letter alias. */
  short?: Readonly<Record<string, string>>;
  /** field → what the usage shows for its value. */
  metavar?: Readonly<Record<string, string>>;
}

type JsonProp = { type?: string; enum?: unknown[]; default?: unknown; description?: string };

export const flagName = (field: string): string => field.replace(/_/g, '-');

/** The flags of an input shape, in the shape's order. */
export function flagsOf(shape: Shape, opts: FlagOptions = {}): FlagSpec[] {
  const json = z.toJSONSchema(z.object(shape), { io: 'input' }) as { properties?: Record<string, JsonProp>; required?: string[] };
  const required = new Set(json.required ?? []);
  const out: FlagSpec[] = [];
  for (const [field, p] of Object.entries(json.properties ?? {})) {
    if (opts.hidden?.includes(field)) continue;
    const choices = Array.isArray(p.enum) ? p.enum.map(String) : undefined;
    const kind: FlagKind = p.type === 'boolean' ? 'boolean' : p.type === 'integer' ? 'integer' : p.type === 'number' ? 'number' : 'string';
    const metavar = opts.metavar?.[field] ?? (choices ? choices.join('|') : kind === 'integer' || kind === 'number' ? 'N' : field.toUpperCase());
    out.push({
      field,
      name: flagName(field),
      kind,
      ...(choices ? { choices } : {}),
      ...(p.default !== undefined ? { default: p.default } : {}),
      description: p.description ?? '',
      required: required.has(field) && p.default === undefined,
      ...(opts.short?.[field] ? { short: opts.short[field] } : {}),
      metavar,
    });
  }
  return out;
}

/** The node:util parseArgs options for these flags (a boolean gets `--x` and `--no-x`). */
export function parseOptionsOf(flags: readonly FlagSpec[]): NonNullable<ParseArgsConfig['options']> {
  const o: NonNullable<ParseArgsConfig['options']> = {};
  for (const f of flags) {
    if (f.kind === 'boolean') {
      o[f.name] = { type: 'boolean', ...(f.short ? { short: f.short } : {}) };
      o[`no-${f.name}`] = { type: 'boolean' };
    } else {
      o[f.name] = { type: 'string', ...(f.short ? { short: f.short } : {}) };
    }
  }
  return o;
}

type Values = Record<string, string | boolean | undefined>;

/**
 * Parsed option values → tool arguments (only what was given, so the
 * schema's defaults apply). Throws HumanUsageError for a number that is not
 * one, or a boolean given both ways.
 */
export function argsOf(flags: readonly FlagSpec[], values: Values): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const f of flags) {
    if (f.kind === 'boolean') {
      const yes = values[f.name] === true;
      const no = values[`no-${f.name}`] === true;
      if (yes && no) throw new HumanUsageError(`give --${f.name} or --no-${f.name}, not both`);
      if (yes || no) args[f.field] = yes;
      continue;
    }
    const v = values[f.name];
    if (v === undefined) continue;
    const s = String(v);
    if (f.kind === 'integer') {
      if (!/^-?\d+$/.test(s.trim())) throw new HumanUsageError(`--${f.name} must be a whole number, got ${JSON.stringify(s)}`);
      args[f.field] = Number(s.trim());
    } else if (f.kind === 'number') {
      const n = Number(s.trim());
      if (!s.trim() || !Number.isFinite(n)) throw new HumanUsageError(`--${f.name} must be a number, got ${JSON.stringify(s)}`);
      args[f.field] = n;
    } else {
      args[f.field] = s;
    }
  }
  return args;
}

/** One flag as the usage line shows it: `[--lines N]`, `--confirm X`, `[--no-pull]`. */
export function usageOf(f: FlagSpec): string {
  const word = f.kind === 'boolean' ? (f.default === true ? `--no-${f.name}` : `--${f.name}`) : `--${f.name} ${f.metavar}`;
  return f.required ? word : `[${word}]`;
}

/** One line per flag for a verb's --help: the flag, then the schema's description, default and choices. */
export function flagHelp(flags: readonly FlagSpec[]): string {
  const rows = flags.map((f) => {
    const left =
      f.kind === 'boolean'
        ? `--${f.name}, --no-${f.name}`
        : `${f.short ? `-${f.short}, ` : ''}--${f.name} ${f.choices ? 'VALUE' : f.metavar}`;
    const notes = [
      f.description,
      f.choices ? `One of: ${f.choices.join(', ')}.` : '',
      f.default !== undefined ? `Default: ${typeof f.default === 'string' ? f.default : JSON.stringify(f.default)}.` : '',
      f.required ? 'Required.' : '',
    ]
      .filter(Boolean)
      .join(' ');
    return { left, notes };
  });
  const width = Math.min(32, Math.max(0, ...rows.map((r) => r.left.length)));
  return rows.map((r) => `      ${r.left.padEnd(width)}  ${r.notes}`).join('\n');
}

/** Wraps `words` into usage lines of at most `max` characters; continuation lines indented. */
export function wrapUsage(head: string, words: readonly string[], max = 100, indent = '          '): string {
  const lines: string[] = [];
  let line = head;
  for (const w of words) {
    if (line.length + 1 + w.length > max && line.trim() !== head.trim()) {
      lines.push(line);
      line = `${indent}${w}`;
    } else {
      line = `${line} ${w}`;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

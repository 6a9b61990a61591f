/**
 * The tool inventory: checks every definition (fail fast at startup), filters
 * BEFORE registering (write tools do not exist in read-only mode: they are
 * neither listed nor callable), builds each handler once from the services,
 * and registers the survivors on an `McpServer` through the guard.
 */
import { registerAppTool } from '@modelcontextprotocol/ext-apps/server';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Extra, GuardRuntime } from './guard.js';
import { guardTool } from './guard.js';
import type { AnyToolDefinition, Caller, ToolHandler } from './types.js';

export interface InventoryOptions {
  /** Hide (do not register) every `write` tool. */
  readOnly: boolean;
}

const NAME_RE = /^[a-z][a-z0-9_]{0,63}$/;
const HINTS = ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const;

type JsonSchema = Record<string, unknown>;

function lintProperty(path: string, s: JsonSchema, problems: string[]): void {
  if (s.$ref !== undefined) problems.push(`${path}: uses $ref (schemas must be flat)`);
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (variants) {
    for (const v of variants) if (v.type !== 'null') lintProperty(path, v, problems);
    return;
  }
  switch (s.type) {
    case 'object':
      problems.push(`${path}: nested object (input schemas must be flat)`);
      break;
    case 'string':
      if (s.maxLength === undefined && s.enum === undefined && s.const === undefined) {
        problems.push(`${path}: string without a bound (.max(), enum or literal)`);
      }
      break;
    case 'number':
    case 'integer': {
      // z.number().int() alone emits the safe-integer range: that is no bound.
      const min = (s.minimum ?? s.exclusiveMinimum) as number | undefined;
      const max = (s.maximum ?? s.exclusiveMaximum) as number | undefined;
      if (min === undefined || max === undefined || min <= Number.MIN_SAFE_INTEGER || max >= Number.MAX_SAFE_INTEGER) {
        problems.push(`${path}: number without both bounds (.min() and .max())`);
      }
      break;
    }
    case 'array':
      if (s.maxItems === undefined) problems.push(`${path}: array without .max()`);
      if (s.items && typeof s.items === 'object') lintProperty(`${path}[]`, s.items as JsonSchema, problems);
      break;
    default:
      break;
  }
}

/**
 * Problems with a definition, as readable lines (empty = fine): name,
 * description, all four annotations consistent with `access`, flat input
 * schema whose fields are bounded and described.
 */
export function lintToolDefinition(def: AnyToolDefinition): string[] {
  const p: string[] = [];
  const at = (m: string) => p.push(`tool ${def.name || '(unnamed)'}: ${m}`);
  if (!NAME_RE.test(def.name ?? '')) at('name must be snake_case ([a-z][a-z0-9_]*, ≤ 64 chars)');
  if (!def.title?.trim()) at('title is empty');
  if (!def.description || def.description.trim().length < 20) at('description must tell a model when to use the tool');
  if (def.access !== 'read' && def.access !== 'write') at(`access must be 'read' or 'write'`);
  for (const h of HINTS) {
    if (typeof def.annotations?.[h] !== 'boolean') at(`annotations.${h} must be set explicitly`);
  }
  if (def.access === 'read' && def.annotations?.readOnlyHint !== true) at('a read tool must have readOnlyHint: true');
  if (def.access === 'write' && def.annotations?.readOnlyHint !== false) at('a write tool must have readOnlyHint: false');
  if (def.access === 'read' && def.annotations?.destructiveHint === true) at('a read tool cannot be destructive');
  if (typeof def.handler !== 'function') at('handler must be a function (services) => (args, ctx) => …');

  for (const [key, field] of Object.entries(def.inputSchema ?? {})) {
    if (!(field as z.ZodType).description) at(`input field ${key} has no .describe()`);
  }
  try {
    const json = z.toJSONSchema(z.object(def.inputSchema ?? {}), { io: 'input', unrepresentable: 'throw' }) as JsonSchema;
    if (json.$defs !== undefined || json.definitions !== undefined) at('input schema has $defs (must be flat)');
    for (const [key, prop] of Object.entries((json.properties ?? {}) as Record<string, JsonSchema>)) {
      const sub: string[] = [];
      lintProperty(key, prop, sub);
      for (const s of sub) at(`input ${s}`);
    }
  } catch (e) {
    at(`input schema cannot be expressed as JSON Schema: ${(e as Error).message}`);
  }
  try {
    const out = z.toJSONSchema(z.object(def.outputSchema ?? {}), { io: 'output', unrepresentable: 'throw' }) as JsonSchema;
    if (out.$defs !== undefined || JSON.stringify(out).includes('"$ref"')) at('output schema uses $ref/$defs');
  } catch (e) {
    at(`output schema cannot be expressed as JSON Schema: ${(e as Error).message}`);
  }
  return p;
}

export class InventoryError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid tool definitions:\n${problems.map((x) => `  - ${x}`).join('\n')}`);
    this.name = 'InventoryError';
  }
}

interface Entry {
  def: AnyToolDefinition;
  run: ToolHandler<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export class ToolInventory {

  /** Checks, filters and builds; throws `InventoryError` listing every problem of every definition. */
  static create<S>(defs: readonly AnyToolDefinition<S>[], services: S, options: InventoryOptions): ToolInventory {
    const problems = defs.flatMap((d) => lintToolDefinition(d as AnyToolDefinition));
    const seen = new Set<string>();
    for (const d of defs) {
      if (seen.has(d.name)) problems.push(`tool ${d.name}: defined twice`);
      seen.add(d.name);
    }
    if (problems.length) throw new InventoryError(problems);
    const entries = defs
      .filter((d) => !(options.readOnly && d.access === 'write'))
      .map((def) => ({ def: def as AnyToolDefinition, run: def.handler(services) }));
    return new ToolInventory(entries, options);
  }

  private constructor(
    private readonly entries: Entry[],
    readonly options: InventoryOptions,
  ) {}

  /** Names of the tools this server exposes. */
  get names(): string[] {
    return this.entries.map((e) => e.def.name);
  }

  get definitions(): AnyToolDefinition[] {
    return this.entries.map((e) => e.def);
  }

  /** Registers every exposed tool on `server`, each behind the guard. */
  registerOn(server: McpServer, rt: GuardRuntime, callerOf: (extra: Extra) => Caller): void {
    for (const { def, run } of this.entries) {
      const config = {
        title: def.title,
        description: def.description,
        // Strict: an unknown key (a model's typo) is an error the model can read, not silently dropped.
        inputSchema: z.object(def.inputSchema).strict(),
        outputSchema: z.object(def.outputSchema),
        annotations: { title: def.title, ...def.annotations },
      };
      const callback = guardTool(def, run, rt, callerOf);
      // registerAppTool writes `_meta.ui.resourceUri` (and the older flat key some hosts still read).
      if (def.ui) registerAppTool(server, def.name, { ...config, _meta: { ui: { resourceUri: def.ui.resourceUri } } }, callback);
      else server.registerTool(def.name, config, callback);
    }
  }
}

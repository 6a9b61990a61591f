/**
 * The tool inventory: checks every definition (fail fast at startup), filters
 * BEFORE registering (write tools do not exist in read-only mode: they are
 * neither listed nor callable), builds each handler once from the services,
 * and registers the survivors on an `McpServer` through the guard, per
 * session only those the caller's scopes allow.
 */
import { registerAppTool } from '@modelcontextprotocol/ext-apps/server';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { Extra, GuardRuntime } from './guard.js';
import { guardTool, SCOPE_READ, SCOPE_WRITE } from './guard.js';
import type { AnyToolDefinition, Caller, Shape, ToolHandler } from './types.js';
import { ToolError } from './types.js';

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
  /** The input schema clients see: the definition's, plus `target`/`app` for scoped tools. */
  inputSchema: Shape;
  run: ToolHandler<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One app on one target and the services of its strategy, as the inventory builds handlers from them. */
export interface ScopeEntry {
  target: string;
  app: string;
  strategy: string;
  services: unknown;
}

/** What tools are built from: every app (in the configured order; the first is the default) and the fleet for fleet-wide handlers. */
export interface ToolScopes {
  scopes: readonly ScopeEntry[];
  /** Passed to `fleetHandler`s. */
  fleet?: unknown;
}

/** The `target` and `app` inputs of a scoped tool, from the configured names. */
export function scopeInputs(scopes: readonly ScopeEntry[], all: boolean): Shape {
  const targets = [...new Set(scopes.map((s) => s.target))] as [string, ...string[]];
  const apps = [...new Set(scopes.map((s) => s.app))] as [string, ...string[]];
  const byTarget = targets.map((t) => `${t}: ${scopes.filter((s) => s.target === t).map((s) => s.app).join(', ')}`).join('; ');
  const target = z.enum(targets);
  return {
    target: (all ? target.optional() : target.default(targets[0])).describe(
      all
        ? `The NAS to look at (one of: ${targets.join(', ')}). With neither target nor app: every target and app in one summary.`
        : `The NAS to work on (default ${targets[0]}).`,
    ),
    app: z
      .enum(apps)
      .optional()
      .describe(`The app on that target (default: the target's first app). Apps per target: ${byTarget}.`),
  };
}

export class ToolInventory {

  /** Checks, filters and builds; throws `InventoryError` listing every problem of every definition. */
  static create(defs: readonly AnyToolDefinition<any>[], scopes: ToolScopes, options: InventoryOptions): ToolInventory { // eslint-disable-line @typescript-eslint/no-explicit-any
    const problems = defs.flatMap((d) => lintToolDefinition(d as AnyToolDefinition));
    const seen = new Set<string>();
    for (const d of defs) {
      if (seen.has(d.name)) problems.push(`tool ${d.name}: defined twice`);
      seen.add(d.name);
      if (d.scope === 'app-or-all' && typeof d.fleetHandler !== 'function') {
        problems.push(`tool ${d.name}: scope ${d.scope} needs a fleetHandler`);
      }
    }
    if (!scopes.scopes.length) problems.push('no app configured');
    if (problems.length) throw new InventoryError(problems);
    const entries = defs
      .filter((d) => !(options.readOnly && d.access === 'write'))
      .map((def) => buildEntry(def as AnyToolDefinition, scopes));
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

  /** The input schema a client sees for `name` (scoped tools carry `target` and `app`). */
  inputSchemaOf(name: string): Shape | undefined {
    return this.entries.find((e) => e.def.name === name)?.inputSchema;
  }

  /** The guarded runner of `name` (the CLI calls tools through it, as MCP does). */
  runnerOf(name: string): ToolHandler<any, any> | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
    return this.entries.find((e) => e.def.name === name)?.run;
  }

  /** The exposed tools a caller with `scopes` may call (a write tool needs ops:write, a read tool ops:read). */
  namesFor(scopes: readonly string[]): string[] {
    return this.entries.filter((e) => allowedBy(e.def, scopes)).map((e) => e.def.name);
  }

  /**
   * Registers the exposed tools on `server`, each behind the guard; with
   * `scopes`, only those they allow (an `ops:read` session lists no write
   * tool). The guard still checks every call.
   */
  registerOn(server: McpServer, rt: GuardRuntime, callerOf: (extra: Extra) => Caller, opts: { scopes?: readonly string[] } = {}): void {
    for (const { def, run, inputSchema } of this.entries) {
      if (opts.scopes && !allowedBy(def, opts.scopes)) continue;
      const config = {
        title: def.title,
        description: def.description,
        // Strict: an unknown key (a model's typo) is an error the model can read, not silently dropped.
        inputSchema: z.object(inputSchema).strict(),
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

/** The app's read coalescer, if its services have one (src/services.ts). */
function readsOf(services: unknown): { invalidate(): void } | undefined {
  const r = (services as { reads?: { invalidate?: unknown } } | undefined)?.reads;
  return r && typeof r.invalidate === 'function' ? (r as { invalidate(): void }) : undefined;
}

function allowedBy(def: AnyToolDefinition, scopes: readonly string[]): boolean {
  return scopes.includes(def.access === 'write' ? SCOPE_WRITE : SCOPE_READ);
}

/**
 * A tool's handlers, one per app (by its strategy), behind one runner that
 * reads `target` and `app`, picks the app's handler and gives it the rest of
 * the arguments: a handler never sees another app's services.
 */
function buildEntry(def: AnyToolDefinition, set: ToolScopes): Entry {
  const scope = def.scope ?? 'app';
  const first = set.scopes[0]!;
  if (scope === 'fleet') {
    const run = def.fleetHandler ? def.fleetHandler(set.fleet) : def.handler(first.services);
    return { def, inputSchema: def.inputSchema, run };
  }
  const handlers = new Map<string, ToolHandler<any, any> | string>(); // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const s of set.scopes) {
    const factory = s.strategy === 'blue-green' ? def.handler : def.strategies?.[s.strategy as 'recreate' | 'swarm-service'];
    handlers.set(`${s.target}\0${s.app}`, factory ? factory(s.services) : s.strategy);
  }
  // One app: "every app" is that app, answered by its own handler.
  const all = scope === 'app-or-all' && def.fleetHandler && set.scopes.length > 1 ? def.fleetHandler(set.fleet) : undefined;
  const run: ToolHandler<any, any> = async (args, ctx) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const { target, app, ...rest } = args as { target?: string; app?: string } & Record<string, unknown>;
    if (all && target === undefined && app === undefined) return all(rest, ctx);
    const t = target ?? first.target;
    const onTarget = set.scopes.filter((s) => s.target === t);
    const s = app === undefined ? onTarget[0] : onTarget.find((x) => x.app === app);
    if (!s) {
      throw new ToolError(
        `there is no app ${app} on target ${t}`,
        `Apps on ${t}: ${onTarget.map((x) => x.app).join(', ') || 'none'}.`,
        'not_found',
      );
    }
    const h = handlers.get(`${s.target}\0${s.app}`)!;
    if (typeof h === 'string') {
      throw new ToolError(
        `${def.name} does not apply to ${s.app} on ${s.target}: it uses the ${h} strategy`,
        'status shows what this app offers; the tool descriptions say which strategies each tool serves.',
        'not_applicable',
      );
    }
    if (def.access !== 'write') return h(rest, ctx);
    // Every write drops the app's status snapshot when it begins and when it returns, whether
    // or not it runs as an operation (release_lock does not): no status after it is older than it.
    const reads = readsOf(s.services);
    reads?.invalidate();
    try {
      return await h(rest, ctx);
    } finally {
      reads?.invalidate();
    }
  };
  return { def, inputSchema: { ...scopeInputs(set.scopes, scope === 'app-or-all'), ...def.inputSchema }, run };
}

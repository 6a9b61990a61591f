/**
 * Tools as self-describing units: a definition carries everything a client
 * sees (name, title, description, schemas, annotations) and everything the
 * server needs to run it safely (access level, handler factory).
 *
 * A handler never builds an MCP result itself: it returns `{ structured, text }`
 * or throws. The one guard path (src/tools/guard.ts) turns that into a
 * `CallToolResult`, after policy, timing, redaction and audit.
 */
import type { z } from 'zod';
import type { Logger } from '../log.js';

/** A flat zod raw shape: `{ field: z.string().max(64).describe('…') }`. */
export type Shape = z.ZodRawShape;

/** Parsed input of a shape (defaults applied). */
export type ShapeInput<S extends Shape> = z.output<z.ZodObject<S>>;
/** What a handler must return as structured output. */
export type ShapeOutput<S extends Shape> = z.input<z.ZodObject<S>>;

/**
 * All four hints, required. A missing `destructiveHint` defaults to true in
 * clients and makes ChatGPT ask for confirmation on harmless calls.
 */
export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export type ToolAccess = 'read' | 'write';

export type TransportKind = 'stdio' | 'streamable-http' | 'sse' | 'cli';

/** Who is calling: what the audit trail records and policy decides on. */
export interface Caller {
  /** Stable id: `token:<fingerprint>`, `anonymous` (HTTP without auth), `stdio`, later an OAuth client id. */
  id: string;
  transport: TransportKind;
  /** MCP session id (HTTP transports). */
  sessionId?: string;
  /** Client name/version from `initialize`, when known. */
  client?: string;
  /** Granted scopes (`ops:read`, `ops:write`). */
  scopes: string[];
}

export interface ToolContext {
  /** Aborted when the client cancels, the session closes, or the server shuts down past its drain bound. */
  signal: AbortSignal;
  /**
   * Sends `notifications/progress` when the request carried a progressToken
   * (else a no-op). `progress` must increase; when omitted a counter is used.
   * Never throws.
   */
  progress(message: string, progress?: number, total?: number): Promise<void>;
  caller: Caller;
  /** Child logger bound to tool, caller and request. */
  log: Logger;
}

export interface ToolResult<O> {
  /** Matches `outputSchema`; sent as `structuredContent`. */
  structured: O;
  /** What the model reads (`content[0].text`): a compact, useful summary. */
  text: string;
  /** MCP resources holding the full picture when the answer was cut (sent as `resource_link` content after the text). */
  links?: ResourceLinkSpec[];
}

export interface ResourceLinkSpec {
  uri: string;
  name: string;
  description?: string;
  mimeType?: string;
}

export type ToolHandler<I extends Shape, O extends Shape> = (
  args: ShapeInput<I>,
  ctx: ToolContext,
) => Promise<ToolResult<ShapeOutput<O>>>;

export interface ToolDefinition<Services = unknown, I extends Shape = Shape, O extends Shape = Shape> {
  /** snake_case, unique. */
  name: string;
  /** Human-readable title for UIs. */
  title: string;
  /** Written for a model: when to use it, what it returns, what it does not do. */
  description: string;
  /** FLAT zod raw shape; every field bounded and `.describe()`d. Unknown keys are rejected. */
  inputSchema: I;
  /** zod raw shape of `structured`. */
  outputSchema: O;
  annotations: ToolAnnotations;
  /** `write` tools are absent in read-only mode and need the `ops:write` scope. */
  access: ToolAccess;
  /** Built once per server from the services (SSH/Docker/…); returns the per-call function. */
  handler: (services: Services) => ToolHandler<I, O>;
  /**
   * MCP Apps: the `ui://` resource hosts that support apps (ChatGPT, Claude)
   * render the result with; hosts without UI read `text` as usual.
   */
  ui?: { resourceUri: string };
  /**
   * Which app a call works on (src/tools/inventory.ts adds the inputs):
   * - `app` (default): `target` and `app` inputs (enums of the configured
   *   names, default the first target and its first app); the handler of that
   *   app's strategy runs (`handler` for blue-green, `strategies` for others);
   * - `app-or-all`: the same, but with neither given `fleetHandler` answers
   *   for every target and app at once;
   * - `fleet`: no such inputs; `fleetHandler` (or `handler` on the first
   *   app's services, for what they all share, such as the job registry).
   */
  scope?: ToolScope;
  /** Handlers of strategies other than blue-green, built once per app of that strategy. */
  strategies?: Partial<Record<'recreate' | 'swarm-service', (services: any) => ToolHandler<I, O>>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Built once from the fleet (every target and app); see `scope`. */
  fleetHandler?: (fleet: any) => ToolHandler<I, O>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type ToolScope = 'app' | 'app-or-all' | 'fleet';

/** A definition of any shape, for lists of tools. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyToolDefinition<Services = unknown> = ToolDefinition<Services, any, any>;

/**
 * Identity helper that infers the shapes (and the services type from the
 * handler's parameter): `export const status = defineTool({ …, handler: (svc: Services) => async (args, ctx) => … })`.
 */
export function defineTool<Services, I extends Shape, O extends Shape>(
  def: ToolDefinition<Services, I, O>,
): ToolDefinition<Services, I, O> {
  return def;
}

/**
 * An expected failure a handler reports to the model: what went wrong and
 * what to do next (`hint`). Becomes `isError: true` with `message` and
 * `Hint: …`; never a stack trace.
 */
export class ToolError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    /** Machine-readable code for the audit trail (`locked`, `not_found`, …). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

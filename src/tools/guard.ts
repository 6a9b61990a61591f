/**
 * The one path every tool call goes through:
 *
 *   (input validated by the SDK against the zod schema; invalid input never
 *    reaches this code: the SDK answers `isError: true` with
 *    "MCP error -32602: Input validation error: …")
 *   → policy (shutdown, read-only, scopes) → execute with timing and an
 *   abort signal → check the output against its schema → redact secret
 *   values from text and structured output → audit record → result.
 *
 * `runTool` returns a structured outcome (`ToolOutcome`: ok, or denied /
 * invalid / failed / cancelled / internal with message and hint); each face
 * renders it: `toCallToolResult` for MCP (`isError` with the message and
 * `Hint: …`, NAS words fenced), src/cli/human.ts for a terminal. Never a
 * stack trace.
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AuditLog } from '../audit.js';
import { redactArgs } from '../audit.js';
import type { Logger, SecretScrubber } from '../log.js';
import type { AnyToolDefinition, Caller, Shape, ToolContext, ToolHandler } from './types.js';
import { ToolError } from './types.js';
import { fenceUntrusted } from './untrusted.js';

export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export const SCOPE_READ = 'ops:read';
export const SCOPE_WRITE = 'ops:write';
export const ALL_SCOPES = [SCOPE_READ, SCOPE_WRITE];

// ---------------------------------------------------------------------------
// In-flight calls (for graceful shutdown and session expiry)

interface InFlight {
  tool: string;
  sessionId?: string;
  controller: AbortController;
}

export class CallTracker {
  private readonly calls = new Set<InFlight>();
  private accepting = true;
  private waiters: Array<() => void> = [];

  get size(): number {
    return this.calls.size;
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  countForSession(sessionId: string): number {
    let n = 0;
    for (const c of this.calls) if (c.sessionId === sessionId) n++;
    return n;
  }

  /** Registers a call; its signal aborts with the request's or with `abortAll`. */
  begin(requestSignal: AbortSignal, meta: { tool: string; sessionId?: string }): { signal: AbortSignal; end(): void } {
    const controller = new AbortController();
    const entry: InFlight = { ...meta, controller };
    this.calls.add(entry);
    return {
      signal: AbortSignal.any([requestSignal, controller.signal]),
      end: () => {
        this.calls.delete(entry);
        if (!this.calls.size) {
          const w = this.waiters;
          this.waiters = [];
          for (const f of w) f();
        }
      },
    };
  }

  /** New calls are denied from now on. */
  stopAccepting(): void {
    this.accepting = false;
  }

  /** Resolves true once no call is in flight, false if `timeoutMs` passed first. */
  drain(timeoutMs: number): Promise<boolean> {
    if (!this.calls.size) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
    });
  }

  /** Aborts every call in flight (their handlers see `ctx.signal` abort). */
  abortAll(reason: string): void {
    for (const c of this.calls) c.controller.abort(new Error(reason));
  }
}

// ---------------------------------------------------------------------------
// Policy

export interface PolicyOptions {
  readOnly: boolean;
}

export type PolicyDecision = { allowed: true } | { allowed: false; message: string; hint: string };

/** Access check. Scopes come from the caller (static token: all; OAuth later: granted ones). */
export function checkPolicy(def: AnyToolDefinition, caller: Caller, opts: PolicyOptions): PolicyDecision {
  if (def.access === 'write' && opts.readOnly) {
    return {
      allowed: false,
      message: `${def.name} changes the system, and this server runs read-only.`,
      hint: 'Use the read tools (status, logs, health), or ask the operator to run the server without --read-only.',
    };
  }
  const needed = def.access === 'write' ? SCOPE_WRITE : SCOPE_READ;
  if (!caller.scopes.includes(needed)) {
    return {
      allowed: false,
      message: `${def.name} needs the ${needed} scope, which this caller was not granted.`,
      hint: `Reconnect with a token that carries ${needed}.`,
    };
  }
  return { allowed: true };
}

// ---------------------------------------------------------------------------
// Redaction

/** Scrubs secret values from every string in a JSON-like value. */
export function scrubDeep<T>(value: T, scrubber: SecretScrubber): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrubber.scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

// ---------------------------------------------------------------------------
// The guard

export interface GuardRuntime {
  log: Logger;
  scrubber: SecretScrubber;
  audit: AuditLog;
  calls: CallTracker;
  policy: PolicyOptions;
  /** Told of every call once it ends (metrics): tool, outcome, milliseconds. */
  onCall?: (tool: string, outcome: 'ok' | 'error' | 'denied', durationMs: number) => void;
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * Expected failures: a ToolError, or any error of the layers below that
 * carries a `hint` for the operator (SSH, Docker, input errors of src/ops).
 */
function asExpectedError(e: unknown): ToolError | undefined {
  if (e instanceof ToolError) return e;
  if (e instanceof Error && typeof (e as { hint?: unknown }).hint === 'string') {
    return new ToolError(e.message, (e as { hint?: string }).hint, e.name);
  }
  return undefined;
}

/**
 * Errors whose message quotes the NAS (a command's stderr, the Docker
 * Engine's or sudo's words, git or nginx output in an operation's failure):
 * the model reads that part as fenced data.
 */
const ERRORS_WITH_NAS_TEXT = new Set(['RemoteCommandError', 'DockerError', 'SudoError', 'OperationError', 'SwarmLogsError']);

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export type CallOutcome = 'ok' | 'error' | 'denied';

/**
 * How one call ends, told once: metrics (`onCall`) and the audit trail, with
 * the arguments redacted. Tools, resources and prompts share it.
 */
export function auditorFor(rt: GuardRuntime, caller: Caller, what: string, args: Record<string, unknown>, started: number) {
  return (outcome: CallOutcome, error?: string, code?: string): void => {
    const durationMs = performance.now() - started;
    rt.onCall?.(what, outcome, durationMs);
    rt.audit.record({
      ts: new Date().toISOString(),
      caller: caller.id,
      transport: caller.transport,
      ...(caller.sessionId ? { sessionId: caller.sessionId } : {}),
      ...(caller.client ? { client: caller.client } : {}),
      tool: what,
      args: redactArgs(args, rt.scrubber),
      outcome,
      ...(error !== undefined ? { error } : {}),
      ...(code !== undefined ? { code } : {}),
      durationMs: Math.round(durationMs),
    });
  };
}

// ---------------------------------------------------------------------------
// One call, one outcome

/** A resource link after the text (the full picture when an answer was cut). */
export type OutcomeLink = { uri: string; name: string; description?: string; mimeType?: string };

/**
 * How one tool call ended, before any face renders it: the MCP face turns it
 * into a CallToolResult (`toCallToolResult`), the human CLI into text or JSON
 * and an exit code. Texts are scrubbed of secret values already.
 * - `denied`: refused by policy (read-only, scope, shutting down);
 * - `invalid`: the arguments do not match the input schema (`issues` per field);
 * - `failed`: an expected failure (ToolError, or an error with a hint);
 * - `cancelled`: the call's signal aborted (client, session, shutdown);
 * - `internal`: anything else (a bug, an unexpected error).
 * `nasText`: the message quotes the NAS (stderr, Docker, sudo), which a model must read as data.
 */
export type ToolOutcome =
  | { kind: 'ok'; structured: Record<string, unknown>; text: string; links: OutcomeLink[] }
  | {
      kind: 'denied' | 'invalid' | 'failed' | 'cancelled' | 'internal';
      tool: string;
      message: string;
      hint?: string;
      code?: string;
      nasText?: boolean;
      issues?: Array<{ field: string; message: string }>;
    };

export type ToolFailure = Exclude<ToolOutcome, { kind: 'ok' }>;

/** Reports progress of a long call to whoever asked (MCP notification, CLI stderr). Never throws. */
export type ProgressSink = (message: string, progress: number, total?: number) => Promise<void> | void;

export interface RunOptions {
  /** Where progress goes; none = dropped. */
  progress?: ProgressSink;
  /** For the call's log lines (the JSON-RPC request id). */
  requestId?: string | number;
  /**
   * Validate `args` against this input shape first (strict, defaults
   * applied): a mismatch is an `invalid` outcome. The MCP face leaves it out
   * (the SDK validated already).
   */
  validate?: Shape;
}

/**
 * Arguments checked against a tool's input shape as MCP clients see it
 * (strict: an unknown key is an error; defaults applied). The MCP face gets
 * this from the SDK; the CLI calls it on what the flags gave.
 */
export function validateInput(
  shape: Shape,
  raw: Record<string, unknown>,
): { ok: true; args: Record<string, unknown> } | { ok: false; issues: Array<{ field: string; message: string }> } {
  const parsed = z.object(shape).strict().safeParse(raw);
  if (parsed.success) return { ok: true, args: parsed.data as Record<string, unknown> };
  return {
    ok: false,
    issues: parsed.error.issues.map((i) => {
      // Unknown keys come as one issue without a path: name them.
      const keys = (i as { keys?: string[] }).keys;
      return { field: String(i.path[0] ?? keys?.[0] ?? ''), message: i.message };
    }),
  };
}

/**
 * The one path of a tool call: policy → execute (timed, abortable, tracked)
 * → output checked against its schema → secrets scrubbed → audit record.
 * Never throws: every ending is an outcome.
 */
export async function runTool(
  rt: GuardRuntime,
  def: AnyToolDefinition,
  run: ToolHandler<any, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  caller: Caller,
  rawArgs: Record<string, unknown>,
  signal: AbortSignal,
  opts: RunOptions = {},
): Promise<ToolOutcome> {
  const started = performance.now();
  const scrub = (s: string) => rt.scrubber.scrub(s);
  const log = rt.log.child({ tool: def.name, caller: caller.id, session: caller.sessionId, requestId: opts.requestId });
  const audit = auditorFor(rt, caller, def.name, rawArgs ?? {}, started);
  const fail = (kind: ToolFailure['kind'], message: string, extra: Omit<ToolFailure, 'kind' | 'tool' | 'message'> = {}): ToolFailure => ({
    kind,
    tool: def.name,
    message,
    ...extra,
  });

  // 1. policy
  if (!rt.calls.isAccepting) {
    audit('denied', 'server is shutting down', 'shutting_down');
    return fail('denied', 'The server is shutting down and takes no new calls.', { hint: 'Retry in a few seconds.', code: 'shutting_down' });
  }
  const decision = checkPolicy(def, caller, rt.policy);
  if (!decision.allowed) {
    audit('denied', decision.message, 'policy');
    return fail('denied', decision.message, { hint: decision.hint, code: 'policy' });
  }
  let args = rawArgs ?? {};
  if (opts.validate) {
    const v = validateInput(opts.validate, args);
    if (!v.ok) {
      const message = scrub(v.issues.map((i) => `${i.field || '(input)'}: ${i.message}`).join('; '));
      audit('error', message, 'invalid');
      return fail('invalid', message, { code: 'invalid', issues: v.issues.map((i) => ({ ...i, message: scrub(i.message) })) });
    }
    args = v.args;
  }

  // 2. execute
  const call = rt.calls.begin(signal, { tool: def.name, sessionId: caller.sessionId });
  let lastProgress = 0;
  let ended = false;
  const ctx: ToolContext = {
    signal: call.signal,
    caller,
    log,
    progress: async (message, progress, total) => {
      // After the result went out, a progress report would refer to a finished call.
      if (!opts.progress || ended || call.signal.aborted) return;
      const p = progress ?? lastProgress + 1;
      lastProgress = p;
      try {
        await opts.progress(scrub(message), p, total);
      } catch (e) {
        log.debug({ err: scrub(errorMessage(e)) }, 'progress not sent');
      }
    },
  };
  try {
    const out = await run(args, ctx);
    const parsed = z.object(def.outputSchema).safeParse(out?.structured);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new Error(`the tool returned output that does not match its schema (${detail})`);
    }
    const structured = scrubDeep(parsed.data, rt.scrubber) as Record<string, unknown>;
    const text = scrub(typeof out.text === 'string' ? out.text : String(out.text));
    audit('ok');
    const links = (out.links ?? []).map((l) => ({ ...l, name: scrub(l.name), ...(l.description ? { description: scrub(l.description) } : {}) }));
    return { kind: 'ok', structured, text, links };
  } catch (e) {
    // The audit keeps the plain message; a face that shows it to a model fences NAS words.
    const nasText = e instanceof Error && ERRORS_WITH_NAS_TEXT.has(e.name);
    const expected = asExpectedError(e);
    if (expected) {
      const msg = scrub(expected.message);
      audit('error', msg, expected.code);
      return fail('failed', msg, {
        ...(expected.hint ? { hint: scrub(expected.hint) } : {}),
        ...(expected.code ? { code: expected.code } : {}),
        ...(nasText ? { nasText } : {}),
      });
    }
    if (call.signal.aborted) {
      const reason = call.signal.reason instanceof Error ? call.signal.reason.message : 'cancelled';
      const msg = scrub(`${def.name} was cancelled: ${reason}`);
      audit('error', msg, 'aborted');
      return fail('cancelled', msg, { hint: 'Check the system state with status before retrying.', code: 'aborted' });
    }
    const msg = scrub(errorMessage(e));
    log.error({ err: { name: (e as Error)?.name, message: msg, stack: scrub((e as Error)?.stack ?? '') } }, 'tool failed');
    audit('error', msg, 'internal');
    return fail('internal', msg, { code: 'internal', ...(nasText ? { nasText } : {}) });
  } finally {
    ended = true;
    call.end();
  }
}

/**
 * The MCP face of an outcome: the text a model reads (NAS words fenced as
 * data, `Hint:` on its own line) and the structured output.
 */
export function toCallToolResult(o: ToolOutcome): CallToolResult {
  if (o.kind === 'ok') {
    return { content: [{ type: 'text', text: o.text }, ...o.links.map((l) => ({ type: 'resource_link' as const, ...l }))], structuredContent: o.structured };
  }
  const show = (msg: string) => (o.nasText ? `\n${fenceUntrusted('error output from the NAS', msg)}` : ` ${msg}`);
  let text: string;
  if (o.kind === 'internal') text = `Internal error in ${o.tool}:${show(o.message)}`;
  else if (o.kind === 'failed' && o.nasText) text = `${o.tool} failed:${show(o.message)}`;
  else if (o.kind === 'invalid') text = `Input validation error: ${o.message}`;
  else text = o.message;
  return errorResult(o.hint ? `${text}\nHint: ${o.hint}` : text);
}

/**
 * Wraps a tool's runner into the callback given to `McpServer.registerTool`:
 * `runTool`, rendered for MCP. `callerOf` tells who sent the request.
 */
export function guardTool(
  def: AnyToolDefinition,
  run: ToolHandler<any, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  rt: GuardRuntime,
  callerOf: (extra: Extra) => Caller,
): (args: Record<string, unknown>, extra: Extra) => Promise<CallToolResult> {
  return async (args, extra) => {
    const progressToken = extra._meta?.progressToken;
    const progress: ProgressSink | undefined =
      progressToken === undefined
        ? undefined
        : (message, p, total) =>
            extra.sendNotification({
              method: 'notifications/progress',
              params: { progressToken, progress: p, ...(total !== undefined ? { total } : {}), message },
            });
    const outcome = await runTool(rt, def, run, callerOf(extra), args ?? {}, extra.signal, { requestId: extra.requestId, ...(progress ? { progress } : {}) });
    return toCallToolResult(outcome);
  };
}

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
 * Errors: `ToolError` → `isError` with its message and `Hint: …`; anything
 * else → `isError` with a generic line plus the (scrubbed) message, never a
 * stack trace.
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { AuditLog } from '../audit.js';
import { redactArgs } from '../audit.js';
import type { Logger, SecretScrubber } from '../log.js';
import type { AnyToolDefinition, Caller, ToolContext, ToolHandler } from './types.js';
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
const ERRORS_WITH_NAS_TEXT = new Set(['RemoteCommandError', 'DockerError', 'SudoError', 'OperationError']);

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

/**
 * Wraps a tool's handler into the callback given to `McpServer.registerTool`.
 * `callerOf` tells who sent the request (per transport/session).
 */
export function guardTool(
  def: AnyToolDefinition,
  run: ToolHandler<any, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  rt: GuardRuntime,
  callerOf: (extra: Extra) => Caller,
): (args: Record<string, unknown>, extra: Extra) => Promise<CallToolResult> {
  const outputSchema = z.object(def.outputSchema);
  const scrub = (s: string) => rt.scrubber.scrub(s);

  return async (args, extra) => {
    const started = performance.now();
    const caller = callerOf(extra);
    const log = rt.log.child({ tool: def.name, caller: caller.id, session: caller.sessionId, requestId: extra.requestId });
    const audit = auditorFor(rt, caller, def.name, args ?? {}, started);

    // 1. policy
    if (!rt.calls.isAccepting) {
      audit('denied', 'server is shutting down', 'shutting_down');
      return errorResult('The server is shutting down and takes no new calls.\nHint: Retry in a few seconds.');
    }
    const decision = checkPolicy(def, caller, rt.policy);
    if (!decision.allowed) {
      audit('denied', decision.message, 'policy');
      return errorResult(`${decision.message}\nHint: ${decision.hint}`);
    }

    // 2. execute
    const call = rt.calls.begin(extra.signal, { tool: def.name, sessionId: caller.sessionId });
    const progressToken = extra._meta?.progressToken;
    let lastProgress = 0;
    let ended = false;
    const ctx: ToolContext = {
      signal: call.signal,
      caller,
      log,
      progress: async (message, progress, total) => {
        // After the result went out, a progress notification would refer to a finished request.
        if (progressToken === undefined || ended || call.signal.aborted) return;
        const p = progress ?? lastProgress + 1;
        lastProgress = p;
        try {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: p, ...(total !== undefined ? { total } : {}), message: scrub(message) },
          });
        } catch (e) {
          log.debug({ err: scrub(errorMessage(e)) }, 'progress notification not sent');
        }
      },
    };
    try {
      const out = await run(args, ctx);
      const parsed = outputSchema.safeParse(out?.structured);
      if (!parsed.success) {
        const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
        throw new Error(`the tool returned output that does not match its schema (${detail})`);
      }
      const structured = scrubDeep(parsed.data, rt.scrubber) as Record<string, unknown>;
      const text = scrub(typeof out.text === 'string' ? out.text : String(out.text));
      audit('ok');
      const links = (out.links ?? []).map((l) => ({ type: 'resource_link' as const, ...l, name: scrub(l.name), ...(l.description ? { description: scrub(l.description) } : {}) }));
      return { content: [{ type: 'text', text }, ...links], structuredContent: structured };
    } catch (e) {
      // The audit keeps the plain message; the model gets NAS words fenced.
      const quotesNas = e instanceof Error && ERRORS_WITH_NAS_TEXT.has(e.name);
      const show = (msg: string) => (quotesNas ? `\n${fenceUntrusted('error output from the NAS', msg)}` : ` ${msg}`);
      const expected = asExpectedError(e);
      if (expected) {
        const msg = scrub(expected.message);
        audit('error', msg, expected.code);
        const shown = quotesNas ? `${def.name} failed:${show(msg)}` : msg;
        return errorResult(expected.hint ? `${shown}\nHint: ${scrub(expected.hint)}` : shown);
      }
      if (call.signal.aborted) {
        const reason = call.signal.reason instanceof Error ? call.signal.reason.message : 'cancelled';
        const msg = scrub(`${def.name} was cancelled: ${reason}`);
        audit('error', msg, 'aborted');
        return errorResult(`${msg}\nHint: Check the system state with status before retrying.`);
      }
      const msg = scrub(errorMessage(e));
      log.error({ err: { name: (e as Error)?.name, message: msg, stack: scrub((e as Error)?.stack ?? '') } }, 'tool failed');
      audit('error', msg, 'internal');
      return errorResult(`Internal error in ${def.name}:${show(msg)}`);
    } finally {
      ended = true;
      call.end();
    }
  };
}

/**
 * Registers resources and prompts on an McpServer behind the same checks as
 * tools: the server must be accepting calls, the caller needs the read scope,
 * the text is scrubbed of secret values, and every read or prompt lands in
 * the audit trail (as `resource:<name>` / `prompt:<name>`) and the metrics.
 * Failures become JSON-RPC errors with a one-line reason and a hint, never a
 * stack trace.
 */
import { ResourceTemplate, type McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ErrorCode, McpError, type GetPromptResult, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import { auditorFor, SCOPE_READ, type Extra, type GuardRuntime } from '../tools/guard.js';
import type { Caller } from '../tools/types.js';
import type { PromptDefinition, ResourceContext, ResourceDefinition } from './types.js';

export interface ExtrasOptions<S> {
  resources: readonly ResourceDefinition<S>[];
  prompts: readonly PromptDefinition[];
  services: S;
  app: string;
}

/** Policy, timing, scrub and audit around one read or prompt. */
async function guarded<T>(
  rt: GuardRuntime,
  caller: Caller,
  extra: Extra,
  what: string,
  args: Record<string, unknown>,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const audit = auditorFor(rt, caller, what, args, performance.now());
  if (!rt.calls.isAccepting) {
    audit('denied', 'server is shutting down', 'shutting_down');
    throw new McpError(ErrorCode.InvalidRequest, 'The server is shutting down. Hint: retry in a few seconds.');
  }
  if (!caller.scopes.includes(SCOPE_READ)) {
    const msg = `${what} needs the ${SCOPE_READ} scope, which this caller was not granted.`;
    audit('denied', msg, 'policy');
    throw new McpError(ErrorCode.InvalidRequest, `${msg} Hint: reconnect with a token that carries ${SCOPE_READ}.`);
  }
  const call = rt.calls.begin(extra.signal, { tool: what, ...(caller.sessionId ? { sessionId: caller.sessionId } : {}) });
  try {
    const out = await run(call.signal);
    audit('ok');
    return out;
  } catch (e) {
    const msg = rt.scrubber.scrub(e instanceof Error ? e.message : String(e));
    const hint = (e as { hint?: unknown }).hint;
    audit('error', msg, call.signal.aborted ? 'aborted' : typeof hint === 'string' ? 'expected' : 'internal');
    throw new McpError(ErrorCode.InternalError, `${what} failed: ${msg}${typeof hint === 'string' ? ` Hint: ${rt.scrubber.scrub(hint)}` : ''}`);
  } finally {
    call.end();
  }
}

export function registerResourcesAndPrompts<S>(
  server: McpServer,
  opts: ExtrasOptions<S>,
  rt: GuardRuntime,
  callerOf: (extra: Extra) => Caller,
): void {
  for (const def of opts.resources) {
    const read = def.read(opts.services);
    const what = `resource:${def.name}`;
    const answer = async (uri: URL, params: Record<string, string>, extra: Extra): Promise<ReadResourceResult> => {
      const caller = callerOf(extra);
      const text = await guarded(rt, caller, extra, what, { uri: uri.href }, (signal) => {
        const ctx: ResourceContext = { signal, caller, audit: rt.audit };
        return read(params, ctx);
      });
      return { contents: [{ uri: uri.href, mimeType: def.mimeType, text: rt.scrubber.scrub(text) }] };
    };
    const meta = { title: def.title, description: def.description, mimeType: def.mimeType };
    if (def.uri.includes('{')) {
      const list = def.list;
      const template = new ResourceTemplate(def.uri, {
        list: list
          ? async () => ({ resources: list(opts.services).map((r) => ({ ...r, mimeType: def.mimeType, description: def.description })) })
          : undefined,
      });
      server.registerResource(def.name, template, meta, (uri, vars, extra) =>
        answer(uri, Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v)])), extra),
      );
    } else {
      server.registerResource(def.name, def.uri, meta, (uri, extra) => answer(uri, {}, extra));
    }
  }
  for (const def of opts.prompts) {
    server.registerPrompt(def.name, { title: def.title, description: def.description, argsSchema: def.args }, async (args: Record<string, unknown>, extra: Extra): Promise<GetPromptResult> => {
      const caller = callerOf(extra);
      const text = await guarded(rt, caller, extra, `prompt:${def.name}`, args, async () => def.build(args as Record<string, string | undefined>, opts.app));
      return { description: def.description, messages: [{ role: 'user', content: { type: 'text', text } }] };
    });
  }
}

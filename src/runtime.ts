/**
 * The runtime both faces of the product run on: the MCP server (stdio or
 * HTTP, src/server.ts) and the human CLI (src/cli/human.ts). Built once per
 * process:
 *
 *   services and fleet (src/services.ts: SSH pools, Docker engines, jobs)
 *   → the tool inventory (filtered by read-only; one handler per app)
 *   → the guard runtime (audit log, in-flight call tracker, metrics hook)
 *   → resources and prompts (registered by the MCP face)
 *   → close(): drain calls in flight, flush the audit, close the services.
 *
 * A face only decides who the caller is and how an outcome reads: MCP
 * renders a CallToolResult per session, the CLI text or JSON and an exit code.
 */
import { AuditLog } from './audit.js';
import type { Secrets } from './config.js';
import type { RootConfig } from './config/targets.js';
import type { Deps } from './deps.js';
import { scrubberFor, type Logger } from './log.js';
import { metricSourcesOf, ServerMetrics } from './metrics/index.js';
import { allPrompts, allResources } from './resources/index.js';
import { createServices, toolScopesOf, type Fleet, type ServiceOptions, type Services } from './services.js';
import { CallTracker, runTool, type GuardRuntime, type RunOptions, type ToolOutcome } from './tools/guard.js';
import { allTools } from './tools/index.js';
import { ToolInventory } from './tools/inventory.js';
import type { AnyToolDefinition, Caller } from './tools/types.js';

/** How long closing waits for tool calls in flight before aborting them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Pause between the last tool call ending and closing sessions (see drainCalls). */
const RESPONSE_FLUSH_MS = 50;

export interface Runtime {
  /** What it was built from (config, secrets, log, scrubber, tools, services, …). */
  deps: Deps<unknown>;
  /** The tools this process exposes (read-only filtered), each with its per-app runner. */
  inventory: ToolInventory;
  /** What the guard needs per call: log, scrubber, audit, call tracker, policy, metrics hook. */
  guard: GuardRuntime;
  /** The MCP `instructions` text. */
  instructions: string;
  /** This instance's Prometheus registry (HTTP with metrics.enabled). */
  metrics?: ServerMetrics;
  /** The tool `name` by its definition, or undefined when this process does not expose it. */
  definitionOf(name: string): AnyToolDefinition | undefined;
  /** Runs one exposed tool through the guard (an unknown or hidden tool is `denied`). */
  call(name: string, caller: Caller, args: Record<string, unknown>, signal: AbortSignal, opts?: RunOptions): Promise<ToolOutcome>;
  /**
   * Stop taking calls, wait for those in flight (bounded), then abort the
   * rest. Afterwards a short pause lets the SDK send their results: it drops
   * the response of any request whose session is closed before the send.
   */
  drainCalls(timeoutMs?: number): Promise<void>;
  /** drainCalls, flush the audit, stop metrics, close the services (once; idempotent). */
  close(): Promise<void>;
}

/** Every service of every app, for a runtime built from a configuration. */
export interface FleetRuntime extends Runtime {
  /** Every target and app (jobs, events, pools; `scope(target, app)`). */
  fleet: Fleet;
  /** The first blue-green app's services. */
  services: Services;
}

export interface RuntimeOptions extends ServiceOptions {
  /** Keep a Prometheus registry of tool calls (the HTTP server with metrics.enabled). */
  metrics?: boolean;
  /** Bound of `close()`'s drain (default 10 s). */
  drainTimeoutMs?: number;
}

export function serverInstructions(deps: Pick<Deps, 'config'>): string {
  const targets = deps.config.targets;
  const apps = targets.flatMap((t) => t.apps);
  const one = apps.length === 1;
  const lines = [
    one
      ? `This server operates the Docker web app "${apps[0]!.name}" on the owner's Synology NAS, over SSH.`
      : `This server operates Docker web apps over SSH: ${targets.map((t) => `target "${t.name}" (${t.apps.map((a) => `${a.name}: ${a.strategy}`).join(', ')})`).join('; ')}. Every tool takes \`target\` and \`app\` (default: the first of each); \`status\` without them summarises them all.`,
    `Start with the \`status\` tool: it shows the app's containers (blue and green colors), which color nginx routes to, their health, version, uptime and restarts, and whether a deploy lock is held.`,
    'Use `logs` and `health` to investigate problems before changing anything.',
    'Changing tools (restart, deploy, rollback, stop, reset) are audited; destructive ones need explicit confirmation arguments; long operations report progress and can be followed afterwards.',
    'There is no free-form shell: only the listed tools.',
  ];
  if (deps.config.server.readOnly) lines.push('This instance is READ-ONLY: only tools that read state are available.');
  return lines.join('\n');
}

function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => (p ??= f());
}

/**
 * A runtime on services already built (tests hand in fakes): inventory,
 * guard runtime, close. Throws `InventoryError` for a bad tool definition.
 */
export function runtimeOf<S>(deps: Deps<S>, opts: Pick<RuntimeOptions, 'metrics' | 'drainTimeoutMs'> = {}): Runtime {
  const readOnly = deps.config.server.readOnly;
  const first = deps.config.targets[0]!;
  const scopes = deps.fleet ?? { scopes: [{ target: first.name, app: first.apps[0]!.name, strategy: first.apps[0]!.strategy, services: deps.services }] };
  const inventory = ToolInventory.create(deps.tools, scopes, { readOnly });
  const metrics = opts.metrics ? new ServerMetrics(deps.observe ?? {}, { processMetrics: deps.config.metrics.processMetrics }) : undefined;
  const guard: GuardRuntime = {
    log: deps.log,
    scrubber: deps.scrubber,
    audit: new AuditLog({ log: deps.log.child({ component: 'audit' }), file: deps.config.log.auditFile }),
    calls: new CallTracker(),
    policy: { readOnly },
    ...(metrics ? { onCall: (tool, outcome, ms) => metrics.observeToolCall(tool, outcome, ms) } : {}),
  };
  const log = deps.log;
  const drainCalls = async (timeoutMs = opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS) => {
    const calls = guard.calls;
    calls.stopAccepting();
    if (!calls.size) return;
    log.info({ inFlight: calls.size, drainTimeoutMs: timeoutMs }, 'waiting for tool calls in flight');
    if (!(await calls.drain(timeoutMs))) {
      log.warn({ inFlight: calls.size }, 'tool calls still running after the drain bound: aborting them');
      calls.abortAll('the server is shutting down');
      // Give aborted handlers a moment to return their "cancelled" result.
      if (!(await calls.drain(2_000))) log.warn({ inFlight: calls.size }, 'tool calls ignored the abort');
    }
    await new Promise((r) => setTimeout(r, RESPONSE_FLUSH_MS));
  };
  const definitionOf = (name: string) => inventory.definitions.find((d) => d.name === name);
  return {
    deps: deps as Deps<unknown>,
    inventory,
    guard,
    instructions: serverInstructions(deps),
    ...(metrics ? { metrics } : {}),
    definitionOf,
    call: async (name, caller, args, signal, callOpts) => {
      const def = definitionOf(name);
      const run = inventory.runnerOf(name);
      if (!def || !run) {
        return { kind: 'denied', tool: name, message: `${name} is not offered by this server${readOnly ? ' (it runs read-only)' : ''}.`, code: 'unknown_tool' };
      }
      return runTool(guard, def, run, caller, args, signal, callOpts);
    },
    drainCalls,
    close: once(async () => {
      await drainCalls();
      await guard.audit.flush().catch((e: unknown) => log.error({ err: deps.scrubber.scrub(String((e as Error)?.message ?? e)) }, 'flushing the audit trail failed'));
      metrics?.close();
      try {
        await deps.close();
      } catch (e) {
        log.error({ err: deps.scrubber.scrub((e as Error).message) }, 'closing services failed');
      }
    }),
  };
}

/**
 * Builds everything from a configuration: services of every target and app,
 * the product's tools, resources and prompts, and the runtime on them.
 * Throws `ConfigError` (a combination the services refuse) or `InventoryError`.
 */
export async function createRuntime(root: RootConfig, secrets: Secrets, log: Logger, opts: RuntimeOptions = {}): Promise<FleetRuntime> {
  const bundle = await createServices(root, secrets, log, {
    ...(opts.watchPreviousColor === undefined ? {} : { watchPreviousColor: opts.watchPreviousColor }),
    ...(opts.statusSnapshots === undefined ? {} : { statusSnapshots: opts.statusSnapshots }),
  });
  const deps: Deps<Services> = {
    config: root,
    secrets,
    log,
    scrubber: scrubberFor(secrets),
    tools: allTools,
    resources: allResources,
    prompts: allPrompts,
    services: bundle.services,
    fleet: toolScopesOf(bundle.fleet),
    observe: metricSourcesOf(bundle.services),
    probeNas: () => bundle.probeNas(),
    close: () => bundle.close(),
  };
  try {
    const rt = runtimeOf(deps, opts);
    return { ...rt, fleet: bundle.fleet, services: bundle.services };
  } catch (e) {
    await bundle.close().catch(() => {});
    throw e;
  }
}

/** A runtime as given, or one built on `deps` (tests hand servers their Deps). */
export function asRuntime<S>(x: Deps<S> | Runtime, opts: Pick<RuntimeOptions, 'metrics' | 'drainTimeoutMs'> = {}): Runtime {
  return 'inventory' in x && 'guard' in x ? x : runtimeOf(x, opts);
}

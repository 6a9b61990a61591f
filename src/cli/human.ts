/**
 * The human CLI: `loop-ops-mcp status|logs|health|deploy|rollback|restart|
 * stop|reset-oauth|restore-oauth|recover|release-lock`, on the same core as the MCP tools.
 *
 * Each verb is a tool call in this process: its flags become the tool's
 * arguments, validated by the tool's own zod input schema (same limits, same
 * messages), then run through the same guard as an MCP call (output checked
 * against the output schema, secrets scrubbed by value, audit record). The
 * caller is `cli:<os user>@<hostname>`, which is what the NAS lock and the
 * deployment history record.
 *
 * Output: `--json` prints one JSON object on stdout (the tool's structured
 * result); otherwise the tool's readable text. Progress of long operations
 * goes to stderr as `[HH:MM:SS] message` lines while they run.
 *
 * Exit codes: 0 ok, 1 the operation failed or was refused (message and hint
 * on stderr), 2 usage or configuration error.
 */
import { hostname, userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { AuditLog } from '../audit.js';
import { ConfigError, loadConfig } from '../config.js';
import { blueGreenConfig } from '../config/targets.js';
import { createLogger, scrubberFor } from '../log.js';
import { createServices, type Services } from '../services.js';
import { ALL_SCOPES, CallTracker, guardTool, scrubDeep, type Extra } from '../tools/guard.js';
import { healthTool } from '../tools/health.js';
import { jobView } from '../tools/jobs.js';
import { logsTool } from '../tools/logs.js';
import { statusTool } from '../tools/status.js';
import type { AnyToolDefinition, Caller } from '../tools/types.js';
import { unfence } from '../tools/untrusted.js';
import { deployTool, recoverTool, releaseLockTool, resetOauthTool, restartTool, restoreOauthTool, rollbackTool, stopTool } from '../tools/write.js';

const PROG = 'loop-ops-mcp';

export const HUMAN_VERBS = ['status', 'logs', 'health', 'deploy', 'rollback', 'restart', 'stop', 'reset-oauth', 'restore-oauth', 'recover', 'release-lock'] as const;
export type HumanVerb = (typeof HUMAN_VERBS)[number];

export function isHumanVerb(v: string | undefined): v is HumanVerb {
  return (HUMAN_VERBS as readonly string[]).includes(v ?? '');
}

/** The verbs' part of the CLI usage text. */
export const HUMAN_USAGE = `  ${PROG} status [--history N]
  ${PROG} logs [CONTAINER] [--container X] [--lines N] [--since 10m] [--grep TEXT [--regex]]
          [--stream both|stdout|stderr] [--no-timestamps] [--max-bytes N]
  ${PROG} health [--timeout-ms N]
  ${PROG} deploy [--ref R] [--no-pull] [--dry-run]
  ${PROG} rollback [--to DEPLOYMENT_ID|VERSION|IMAGE]
  ${PROG} restart [--in-place] [--dry-run]
  ${PROG} stop CONTAINER --confirm CONTAINER [--force]
  ${PROG} reset-oauth --confirm APP | --dry-run
  ${PROG} restore-oauth [BACKUP] --confirm APP | --dry-run
  ${PROG} recover
  ${PROG} release-lock --confirm OPERATION_ID
      Operate the app from a terminal, on the same core as the MCP tools.
      Each takes --config FILE (default $LOOP_OPS_CONFIG), --json (one JSON
      object on stdout: the tool's structured result) and --verbose (logs on
      stderr). Long operations print progress to stderr as they run.
      Exit codes: 0 ok, 1 operation failed or refused, 2 usage/config error.`;

/** The usage lines of one verb. */
export function verbUsage(verb: HumanVerb): string {
  const lines = HUMAN_USAGE.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith(`  ${PROG} ${verb} `) && lines[i] !== `  ${PROG} ${verb}`) continue;
    out.push(lines[i]!);
    while (lines[i + 1]?.startsWith('          ')) out.push(lines[++i]!);
  }
  return out.join('\n');
}

export class HumanUsageError extends Error {}

type Values = Record<string, string | boolean | undefined>;

interface VerbSpec {
  tool: AnyToolDefinition<Services>;
  options: NonNullable<ParseArgsConfig['options']>;
  /** How many positionals the verb takes (0 or 1). */
  positionals: number;
  /** Flags → tool arguments (before validation). */
  args(values: Values, positionals: string[]): Record<string, unknown>;
  /** Tool field → how the user wrote it, for error messages. */
  flagOf?: Record<string, string>;
  /** Long operation: runs as a job, progress on stderr. */
  job?: boolean;
}

function int(values: Values, flag: string): number | undefined {
  const v = values[flag];
  if (v === undefined) return undefined;
  const s = String(v).trim();
  if (!/^-?\d+$/.test(s)) throw new HumanUsageError(`--${flag} must be a whole number, got ${JSON.stringify(s)}`);
  return Number(s);
}

const str = (values: Values, flag: string): string | undefined => (values[flag] === undefined ? undefined : String(values[flag]));
const bool = (values: Values, flag: string): boolean | undefined => (values[flag] === undefined ? undefined : values[flag] === true);

/** Drops undefined fields, so the schema's defaults apply. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Long operations wait this long per round (the tools' maximum); the CLI keeps following after it. */
const JOB_WAIT_SECONDS = 600;

const SPECS: Record<HumanVerb, VerbSpec> = {
  status: {
    tool: statusTool,
    options: { history: { type: 'string' } },
    positionals: 0,
    args: (v) => defined({ history: int(v, 'history') }),
  },
  logs: {
    tool: logsTool,
    options: {
      container: { type: 'string' },
      lines: { type: 'string', short: 'n' },
      since: { type: 'string' },
      grep: { type: 'string' },
      regex: { type: 'boolean' },
      stream: { type: 'string' },
      'no-timestamps': { type: 'boolean' },
      'max-bytes': { type: 'string' },
    },
    positionals: 1,
    args: (v, p) => {
      if (p[0] !== undefined && v.container !== undefined && p[0] !== v.container) {
        throw new HumanUsageError('give the container either as an argument or with --container, not both');
      }
      return defined({
        container: p[0] ?? str(v, 'container'),
        lines: int(v, 'lines'),
        since: str(v, 'since'),
        grep: str(v, 'grep'),
        regex: bool(v, 'regex'),
        stream: str(v, 'stream'),
        timestamps: v['no-timestamps'] === true ? false : undefined,
        max_bytes: int(v, 'max-bytes'),
      });
    },
    flagOf: { timestamps: '--no-timestamps' },
  },
  health: {
    tool: healthTool,
    options: { 'timeout-ms': { type: 'string' } },
    positionals: 0,
    args: (v) => defined({ timeout_ms: int(v, 'timeout-ms') }),
  },
  deploy: {
    tool: deployTool,
    options: { ref: { type: 'string' }, 'no-pull': { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
    positionals: 0,
    args: (v) => defined({ ref: str(v, 'ref'), pull: v['no-pull'] === true ? false : undefined, dry_run: bool(v, 'dry-run'), wait_seconds: JOB_WAIT_SECONDS }),
    flagOf: { pull: '--no-pull' },
    job: true,
  },
  rollback: {
    tool: rollbackTool,
    options: { to: { type: 'string' } },
    positionals: 0,
    args: (v) => defined({ to: str(v, 'to'), wait_seconds: JOB_WAIT_SECONDS }),
    job: true,
  },
  restart: {
    tool: restartTool,
    options: { 'in-place': { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
    positionals: 0,
    args: (v) => defined({ in_place: bool(v, 'in-place'), dry_run: bool(v, 'dry-run'), wait_seconds: JOB_WAIT_SECONDS }),
    job: true,
  },
  stop: {
    tool: stopTool,
    options: { confirm: { type: 'string' }, force: { type: 'boolean' } },
    positionals: 1,
    args: (v, p) => {
      if (p[0] === undefined) throw new HumanUsageError('stop needs the CONTAINER to stop, e.g. stop loop-api-green --confirm loop-api-green');
      if (v.confirm === undefined) throw new HumanUsageError(`stop is destructive: repeat the container name with --confirm ${p[0]}`);
      if (v.confirm !== p[0]) throw new HumanUsageError(`--confirm must repeat the container name exactly ("${p[0]}"), got ${JSON.stringify(v.confirm)}: nothing was stopped`);
      return defined({ container: p[0], confirm: str(v, 'confirm'), force: bool(v, 'force') });
    },
    flagOf: { container: 'CONTAINER' },
  },
  'reset-oauth': {
    tool: resetOauthTool,
    options: { confirm: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    positionals: 0,
    args: (v) => {
      if (v.confirm === undefined && v['dry-run'] !== true) {
        throw new HumanUsageError('reset-oauth invalidates every OAuth token: run it with --dry-run first, then with --confirm <app name>');
      }
      return defined({ confirm: str(v, 'confirm'), dry_run: bool(v, 'dry-run'), wait_seconds: JOB_WAIT_SECONDS });
    },
    job: true,
  },
  'restore-oauth': {
    tool: restoreOauthTool,
    options: { confirm: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    positionals: 1,
    args: (v, p) => {
      if (v.confirm === undefined && v['dry-run'] !== true) {
        throw new HumanUsageError('restore-oauth replaces the live OAuth keys and DB: run it with --dry-run first, then with --confirm <app name>');
      }
      return defined({ backup: p[0], confirm: str(v, 'confirm'), dry_run: bool(v, 'dry-run'), wait_seconds: JOB_WAIT_SECONDS });
    },
    flagOf: { backup: 'BACKUP' },
    job: true,
  },
  recover: { tool: recoverTool, options: {}, positionals: 0, args: () => ({}) },
  'release-lock': {
    tool: releaseLockTool,
    options: { confirm: { type: 'string' } },
    positionals: 0,
    args: (v) => {
      if (v.confirm === undefined) throw new HumanUsageError("release-lock needs --confirm OPERATION_ID (the lock's operation id, as status shows it)");
      return { confirm: str(v, 'confirm') };
    },
  },
};

export interface ParsedHuman {
  verb: HumanVerb;
  config?: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
  /** Validated tool arguments (schema defaults applied). */
  args: Record<string, unknown>;
}

/** Options every CLI verb takes besides its own. */
export interface CommonFlags {
  config?: string;
  json: boolean;
  verbose: boolean;
  help: boolean;
}

/**
 * Splits a verb's command line: its own options plus --config/--json/
 * --verbose/--help (strict: unknown flags are usage errors). Throws HumanUsageError.
 */
export function parseVerbArgs(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: Values; positionals: string[]; common: CommonFlags } {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...options,
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    throw new HumanUsageError((e as Error).message);
  }
  const common: CommonFlags = {
    config: (values.config as string | undefined) ?? (process.env.LOOP_OPS_CONFIG || undefined),
    json: values.json === true,
    verbose: values.verbose === true,
    help: values.help === true,
  };
  return { values, positionals, common };
}

/** Parses and validates a verb's command line (no I/O). Throws HumanUsageError. */
export function parseHuman(verb: HumanVerb, argv: string[]): ParsedHuman {
  const spec = SPECS[verb];
  const { values, positionals, common: flags } = parseVerbArgs(argv, spec.options);
  const common = { verb, ...flags };
  if (common.help) return { ...common, args: {} };
  if (positionals.length > spec.positionals) throw new HumanUsageError(`unexpected argument for ${verb}: ${positionals[spec.positionals]}`);
  const raw = spec.args(values, positionals);
  // The tool's own input schema: same limits and messages as over MCP.
  const parsed = z.object(spec.tool.inputSchema).strict().safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const field = String(i.path[0] ?? '');
      const flag = spec.flagOf?.[field] ?? (field ? `--${field.replace(/_/g, '-')}` : verb);
      return `${flag}: ${i.message}`;
    });
    throw new HumanUsageError(problems.join('\n'));
  }
  return { ...common, args: parsed.data as Record<string, unknown> };
}

/** `cli:<os user>@<hostname>`: who the lock and the history name. */
export function cliCallerId(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER || process.env.LOGNAME || `uid${process.getuid?.() ?? '?'}`;
  }
  return `cli:${user}@${hostname()}`;
}

const clock = () => new Date().toTimeString().slice(0, 8);

/** Splits a guard error text (`message\nHint: …`) in two. */
function splitHint(text: string): { message: string; hint: string | null } {
  const i = text.lastIndexOf('\nHint: ');
  return i < 0 ? { message: text, hint: null } : { message: text.slice(0, i), hint: text.slice(i + 7) };
}

/** Runs one verb. Returns the exit code. */
export async function runHuman(verb: HumanVerb, argv: string[], io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const say = (s: string) => io.err.write(`${PROG}: ${s}\n`);
  let p: ParsedHuman;
  try {
    p = parseHuman(verb, argv);
  } catch (e) {
    if (!(e instanceof HumanUsageError)) throw e;
    for (const line of e.message.split('\n')) say(line);
    io.err.write(`usage:\n${verbUsage(verb)}\n(${PROG} --help for every command)\n`);
    return 2;
  }
  if (p.help) {
    io.out.write(`Usage:\n${verbUsage(verb)}\n\n${HUMAN_USAGE.split('\n').slice(-5).join('\n')}\n`);
    return 0;
  }
  const spec = SPECS[verb];

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ file: p.config });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const pr of e.problems) say(`config: ${pr}`);
    return 2;
  }
  const { config, secrets } = loaded;
  const scrubber = scrubberFor(secrets);
  // Logs would drown the messages and progress lines: errors only unless --verbose
  // (what goes wrong is reported as a message + hint anyway).
  const log = createLogger({ level: p.verbose ? config.log.level : 'error' });

  if ((verb === 'reset-oauth' || verb === 'restore-oauth') && p.args.dry_run !== true && p.args.confirm !== blueGreenConfig(config).app.name) {
    say(`--confirm must be the app name ("${blueGreenConfig(config).app.name}"): nothing was changed`);
    say('hint: this invalidates every OAuth token; run with --dry-run first, then --confirm with the app name.');
    return 2;
  }
  if (spec.tool.access === 'write' && config.server.readOnly) {
    say(`${verb} changes the system, and the configuration sets server.readOnly`);
    return 2;
  }

  let bundle: Awaited<ReturnType<typeof createServices>>;
  try {
    bundle = await createServices(config, secrets, log, { watchPreviousColor: false });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const pr of e.problems) say(`config: ${pr}`);
    return 2;
  }
  const svc = bundle.services;
  const audit = new AuditLog({ log: log.child({ component: 'audit' }), file: config.log.auditFile });
  const calls = new CallTracker();
  const caller: Caller = { id: cliCallerId(), transport: 'cli', scopes: [...ALL_SCOPES] };
  const run = guardTool(spec.tool as AnyToolDefinition, spec.tool.handler(svc), { log, scrubber, audit, calls, policy: { readOnly: false } }, () => caller);

  const progress = (m: string) => io.err.write(`[${clock()}] ${scrubber.scrub(m)}\n`);
  // Ctrl-C: a deploy cut in the middle is worse than a finished one. The
  // first one only warns; the second exits (the NAS journal lets `recover`
  // put things right).
  const ac = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1 && spec.job) {
      say('interrupt: the operation keeps running to a safe end; press Ctrl-C again to leave it (then run status / recover)');
      return;
    }
    say('interrupted');
    process.exit(130);
  };
  process.on('SIGINT', onSigint);

  const extra = {
    signal: ac.signal,
    requestId: 1,
    _meta: { progressToken: 1 },
    sendNotification: async (n: { method: string; params?: { message?: unknown } }) => {
      if (n.method === 'notifications/progress' && typeof n.params?.message === 'string') progress(n.params.message);
    },
    sendRequest: async () => {
      throw new Error('not supported in the CLI');
    },
    authInfo: undefined,
  } as unknown as Extra;

  let code = 0;
  try {
    const r = await run(p.args, extra);
    // The fence around NAS text is for a model; a person reads the (neutralized) text itself.
    const text = unfence(r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n'));
    if (r.isError) {
      code = 1;
      const { message, hint } = splitHint(text);
      // A failed long operation: its job snapshot has the partial result (last log lines, …).
      const job = spec.job ? svc.jobs.list()[0] : undefined;
      const jobOut = job ? scrubDeep({ ...jobView(job, 50), kind: job.kind, error: job.error, hint: job.hint }, scrubber) : undefined;
      if (p.json) io.out.write(`${JSON.stringify({ error: message, hint, ...(jobOut ? { job: jobOut } : {}) }, null, 2)}\n`);
      else if (jobOut?.result) io.out.write(`${JSON.stringify(jobOut.result, null, 2)}\n`);
      for (const line of message.split('\n')) say(line);
      if (hint) say(`hint: ${hint}`);
    } else {
      let structured = r.structuredContent as Record<string, unknown>;
      let out = text;
      // Longer than the tool's wait: keep following the job to its end.
      if (spec.job && structured.state === 'running' && typeof structured.jobId === 'string') {
        let j = svc.jobs.get(structured.jobId);
        while (j && j.state === 'running') j = await svc.jobs.wait(j.id, JOB_WAIT_SECONDS * 1000, progress);
        if (j) {
          structured = scrubDeep({ ...jobView(j), ...(j.state === 'failed' ? { error: j.error, hint: j.hint } : {}) }, scrubber);
          out = `${verb} ${j.state}${j.result ? `\n${JSON.stringify(j.result, null, 1)}` : ''}`;
          if (j.state === 'failed') {
            code = 1;
            say(`${verb} failed: ${scrubber.scrub(j.error ?? 'unknown error')}`);
            if (j.hint) say(`hint: ${scrubber.scrub(j.hint)}`);
          }
        }
      }
      io.out.write(p.json ? `${JSON.stringify(structured, null, 2)}\n` : `${out}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await audit.flush().catch(() => {});
    await bundle.close().catch(() => {});
    log.flush?.();
  }
  // Should anything still hold the event loop (a socket the SSH library keeps,
  // a timer), leave anyway once the output is out; unref'd, it never delays an exit.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}

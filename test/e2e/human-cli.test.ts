/**
 * The human CLI (`loop-ops-mcp status|logs|health|deploy|rollback|…`) as a
 * process against the sandbox NAS: JSON and text output, validation errors
 * (exit 2) that change nothing, and one real deploy + rollback with progress
 * lines on stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitToOrigin, getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
const ROOT = resolve(import.meta.dirname, '../..');
// `node --import tsx`, not the tsx wrapper: one process instead of two (half the start-up on a
// busy machine), and SIGTERM reaches the CLI itself, not a wrapper that relays it.
const RUN_TS = [process.execPath, '--import', 'tsx'] as const;
const CLI = join(ROOT, 'src', 'cli.ts');
const CONFIG = join(ROOT, '.sandbox', 'config.yaml');

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<Result> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOOP_OPS_LOG_FORMAT: 'json', ...env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('LOOP_OPS_') && !(k in env) && k !== 'LOOP_OPS_LOG_FORMAT') delete childEnv[k];
  return new Promise((resolveRun, reject) => {
    const child = spawn(RUN_TS[0], [...RUN_TS.slice(1), CLI, ...args, '--config', CONFIG], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`loop-ops-mcp ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

/**
 * The sandbox's targets file has prod and staging, loop-api and loop-auth on each: status
 * without target or app summarises them all, so the single-app checks name prod's loop-api
 * (the other verbs default to it: the first target, its first app).
 */
const STATUS = ['status', '--target', 'prod', '--app', 'loop-api'];

const FAST = { LOOP_OPS__DEPLOY__HEALTH_INTERVAL_MS: '250', LOOP_OPS__DEPLOY__VERIFY_SECONDS: '1' };
const PROGRESS_LINE = /^\[\d\d:\d\d:\d\d\] \S/;

describe.skipIf(!sandbox)(`human CLI against the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let sudoPassword = '';
  const noSecrets = (r: Result) => {
    if (sudoPassword.length >= 4) expect(r.stdout + r.stderr).not.toContain(sudoPassword);
  };

  beforeAll(() => {
    resetSandbox(sandbox!, sandbox!.lane);
    sudoPassword = readFileSync(sandbox!.sudoPasswordFile, 'utf8').trim();
  }, 180_000);
  afterAll(() => {
    resetSandbox(sandbox!, sandbox!.lane);
  }, 180_000);

  it('status --json: the status tool\'s structured output', async () => {
    const r = await cli([...STATUS, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.liveColor).toBe('blue');
    expect(st.app).toBe('loop-api');
    expect(st.colors.blue.state).toBe('running');
    expect(st.lock.held).toBe(false);
    noSecrets(r);
  });

  it('status: readable text', async () => {
    const r = await cli(STATUS);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loop-api: live color blue$/m);
    expect(r.stdout).toMatch(/^blue \[live\]: loop-api-blue running/m);
    expect(r.stdout).toMatch(/^lock: free$/m);
  });

  it('logs --lines 5', async () => {
    const r = await cli(['logs', '--lines', '5']);
    expect(r.code, r.stderr).toBe(0);
    const [head, ...body] = r.stdout.trimEnd().split('\n');
    expect(head).toMatch(/^loop-api-blue: \d+ line\(s\)/);
    expect(body.length).toBeGreaterThan(0);
    expect(body.length).toBeLessThanOrEqual(5);
    const j = await cli(['logs', 'blue', '--lines', '3', '--stream', 'stdout', '--json']);
    expect(j.code, j.stderr).toBe(0);
    const out = JSON.parse(j.stdout);
    expect(out.container).toBe('loop-api-blue');
    expect(out.lines.length).toBeLessThanOrEqual(3);
    expect(out.lines.every((l: { stream: string }) => l.stream === 'stdout')).toBe(true);
  });

  it('health', async () => {
    const r = await cli(['health']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^overall: healthy$/m);
    expect(r.stdout).toMatch(/^front \(nginx\): ok 200/m);
  });

  it('deploy --dry-run: the plan, nothing changed', async () => {
    const r = await cli(['deploy', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dry run: would deploy to green/);
    expect(r.stdout).toMatch(/^\d+\. build: /m);
    const j = await cli(['deploy', '--dry-run', '--json', '--no-pull']);
    expect(j.code, j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ jobId: null, state: 'planned', result: { dryRun: true } });
    const rs = await cli(['restart', '--dry-run']);
    expect(rs.code, rs.stderr).toBe(0);
    expect(rs.stdout).toMatch(/^\d+\. start: docker API: remove loop-api-green, create it from image /m);
    expect(rs.stdout).toMatch(/^\d+\. switch: /m);
    const st = JSON.parse((await cli([...STATUS, '--json'])).stdout);
    expect(st.liveColor).toBe('blue');
    expect(st.colors.green).toBeNull();
  });

  it('stop with a wrong --confirm: exit 2, clear message, nothing stopped', async () => {
    const r = await cli(['stop', 'loop-api-blue', '--confirm', 'nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--confirm must repeat the container name exactly \("loop-api-blue"\)/);
    expect(r.stderr).toMatch(/nothing was stopped/);
    expect(r.stdout).toBe('');
    const g = await cli(['stop', 'loop-api-green', '--confirm', 'nope']);
    expect(g.code).toBe(2);
    const st = JSON.parse((await cli([...STATUS, '--json'])).stdout);
    expect(st.colors.blue.state).toBe('running');
    expect(st.liveColor).toBe('blue');
    expect(st.recentDeployments).toEqual([]);
  });

  it('bad input: exit 2 with the schema\'s message, before touching the NAS', async () => {
    const r = await cli(['logs', '--lines', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--lines: Too small: expected number to be >=1/);
    expect(r.stdout).toBe('');
    const s = await cli(['logs', '--stream', 'sideways']);
    expect(s.code).toBe(2);
    expect(s.stderr).toMatch(/--stream: /);
    const u = await cli(['deploy', '--frobnicate']);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/Unknown option '--frobnicate'/);
    const o = await cli(['reset-oauth']);
    expect(o.code).toBe(2);
    expect(o.stderr).toMatch(/--dry-run first/);
    const ro = await cli(['restore-oauth', '../../etc', '--dry-run']);
    expect(ro.code).toBe(2);
    expect(ro.stderr).toMatch(/BACKUP: a backup name/);
  });

  it('--target and --app: the configured names work, another is refused by the schema before touching the NAS', async () => {
    const bad = await cli(['health', '--target', 'no-such-nas']);
    expect(bad.code).toBe(2);
    // zod names the configured targets ("expected one of" them, or "expected" the only one).
    expect(bad.stderr).toMatch(/^loop-ops-mcp: --target: Invalid (option|input): expected (one of )?"/m);
    expect(bad.stdout).toBe('');
    const target = /expected (?:one of )?"([^"]+)"/.exec(bad.stderr)![1]!;
    const r = await cli(['status', '--target', target, '--app', 'loop-api', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ app: 'loop-api', liveColor: 'blue' });
    // Neither given: one summary of every target and app.
    const all = await cli(['status', '--json']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toContain('"staging"');
    expect(all.stdout).toContain('"loop-auth"');
    const a = await cli(['logs', '--app', 'no-such-app']);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--app: Invalid (option|input)/);
  });

  it('refused operation: exit 1 with message and hint', async () => {
    const r = await cli(['stop', 'postgres', '--confirm', 'postgres']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/container must be one of: /);
    expect(r.stderr).toMatch(/^loop-ops-mcp: hint: /m);
    const j = await cli(['stop', 'postgres', '--confirm', 'postgres', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: expect.stringMatching(/container must be one of/), hint: expect.any(String) });
  });

  it('deploy then rollback: progress on stderr, result on stdout', async () => {
    commitToOrigin(sandbox!, { VERSION: '9.9.9' }, 'human cli test');
    const d = await cli(['deploy', '--json'], FAST, 300_000);
    expect(d.code, d.stderr).toBe(0);
    const progress = d.stderr.split('\n').filter((l) => PROGRESS_LINE.test(l));
    expect(progress.length).toBeGreaterThan(3);
    expect(progress.some((l) => /building loop-api:/.test(l))).toBe(true);
    expect(progress.some((l) => /switching nginx to green/.test(l))).toBe(true);
    expect(progress.some((l) => /deployed 9\.9\.9 on green/.test(l))).toBe(true);
    const dep = JSON.parse(d.stdout);
    expect(dep).toMatchObject({ state: 'succeeded', result: { fromColor: 'blue', toColor: 'green', liveColor: 'green', version: '9.9.9' } });
    noSecrets(d);

    const st = JSON.parse((await cli([...STATUS, '--json'])).stdout);
    expect(st.liveColor).toBe('green');
    expect(st.colors.green.version).toBe('9.9.9');
    expect(st.recentDeployments[0]).toMatchObject({ kind: 'deploy', outcome: 'succeeded', who: `cli:${userInfo().username}@${hostname()}` });

    const r = await cli(['rollback'], FAST, 300_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split('\n').some((l) => PROGRESS_LINE.test(l) && /rolled back to blue/.test(l))).toBe(true);
    expect(r.stdout).toMatch(/succeeded/);
    const after = JSON.parse((await cli([...STATUS, '--json'])).stdout);
    expect(after.liveColor).toBe('blue');
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'rollback', outcome: 'succeeded' });
  }, 400_000);
});

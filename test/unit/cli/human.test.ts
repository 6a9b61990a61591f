/**
 * The human CLI's verbs and flags, derived from the tool definitions (no
 * NAS, no config): names, types, positionals, the generated usage.
 */
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { argsOf, flagsOf, HumanUsageError, parseOptionsOf } from '../../../src/cli/flags.js';
import { failureText, HUMAN_USAGE, HUMAN_VERBS, parseHuman, verbFlags, verbHelp, verbUsage } from '../../../src/cli/human.js';
import { allTools } from '../../../src/tools/index.js';

describe('flags from an input schema', () => {
  const shape = {
    dry_run: z.boolean().default(false).describe('Only plan.'),
    pull: z.boolean().default(true).describe('Pull first.'),
    max_bytes: z.number().int().min(1).max(10).default(5).describe('Cap.'),
    ratio: z.number().min(0).max(1).optional().describe('A ratio.'),
    stream: z.enum(['both', 'stdout']).default('both').describe('Which stream.'),
    confirm: z.string().max(10).describe('Say it.'),
  };

  it('snake_case fields become --kebab-case flags of the right kind; required ones are marked', () => {
    const flags = flagsOf(shape);
    expect(flags.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['dry-run', 'boolean', false],
      ['pull', 'boolean', false],
      ['max-bytes', 'integer', false],
      ['ratio', 'number', false],
      ['stream', 'string', false],
      ['confirm', 'string', true],
    ]);
    expect(flags.find((f) => f.name === 'stream')?.choices).toEqual(['both', 'stdout']);
  });

  it('booleans take --x and --no-x; numbers are parsed; only what was given is set', () => {
    const flags = flagsOf(shape);
    expect(Object.keys(parseOptionsOf(flags))).toEqual(['dry-run', 'no-dry-run', 'pull', 'no-pull', 'max-bytes', 'ratio', 'stream', 'confirm']);
    expect(argsOf(flags, { 'no-pull': true, 'max-bytes': '7', ratio: '0.5', stream: 'stdout' })).toEqual({ pull: false, max_bytes: 7, ratio: 0.5, stream: 'stdout' });
    expect(() => argsOf(flags, { 'max-bytes': '7k' })).toThrow(/--max-bytes must be a whole number, got "7k"/);
    expect(() => argsOf(flags, { ratio: 'half' })).toThrow(/--ratio must be a number/);
    expect(() => argsOf(flags, { pull: true, 'no-pull': true })).toThrow(HumanUsageError);
  });
});

describe('verbs', () => {
  it('every verb calls a tool the product has', () => {
    const names = new Set(allTools.map((t) => t.name));
    expect(HUMAN_VERBS).toEqual(['status', 'logs', 'health', 'deploy', 'rollback', 'restart', 'stop', 'reset-oauth', 'restore-oauth', 'recover', 'release-lock', 'job']);
    for (const v of HUMAN_VERBS) expect(verbHelp(v)).toMatch(new RegExp(`tool (${[...names].join('|')})`));
  });

  it('--target and --app exist for every tool that works on one app, not for job_status', () => {
    for (const v of HUMAN_VERBS) {
      const names = verbFlags(v).map((f) => f.name);
      if (v === 'job') expect(names).not.toContain('target');
      else expect(names.slice(0, 2)).toEqual(['target', 'app']);
    }
    expect(parseHuman('deploy', ['--target', 'staging', '--app', 'loop-auth', '--dry-run']).args).toEqual({ target: 'staging', app: 'loop-auth', dry_run: true, wait_seconds: 600 });
  });

  it("today's flags keep their spelling, positionals included", () => {
    expect(parseHuman('logs', ['blue', '-n', '3', '--stream', 'stdout', '--no-timestamps', '--max-bytes', '2048']).args).toEqual({
      container: 'blue',
      lines: 3,
      stream: 'stdout',
      timestamps: false,
      max_bytes: 2048,
    });
    expect(parseHuman('deploy', ['--no-pull', '--ref', 'v2']).args).toEqual({ pull: false, ref: 'v2', wait_seconds: 600 });
    expect(parseHuman('restart', ['--in-place', '--dry-run']).args).toMatchObject({ in_place: true, dry_run: true });
    expect(parseHuman('health', ['--timeout-ms', '900']).args).toEqual({ timeout_ms: 900 });
    expect(parseHuman('stop', ['loop-api-green', '--confirm', 'loop-api-green', '--force']).args).toEqual({ container: 'loop-api-green', confirm: 'loop-api-green', force: true });
    expect(parseHuman('restore-oauth', ['oauth-reset-20261206T031500', '--dry-run']).args).toMatchObject({ backup: 'oauth-reset-20261206T031500', dry_run: true });
    expect(parseHuman('job', ['deploy-1', '--wait-seconds', '5']).args).toEqual({ job_id: 'deploy-1', wait_seconds: 5 });
  });

  it('usage errors: unknown flags, extra arguments, checks that need no config', () => {
    expect(() => parseHuman('deploy', ['--frobnicate'])).toThrow(/Unknown option '--frobnicate'/);
    expect(() => parseHuman('status', ['extra'])).toThrow(/unexpected argument for status: extra/);
    expect(() => parseHuman('logs', ['blue', '--container', 'green'])).toThrow(/either as an argument or with --container/);
    expect(() => parseHuman('stop', ['loop-api-blue', '--confirm', 'nope'])).toThrow(/--confirm must repeat the container name exactly \("loop-api-blue"\)/);
    expect(() => parseHuman('reset-oauth', [])).toThrow(/--dry-run first/);
    expect(() => parseHuman('release-lock', [])).toThrow(/needs --confirm OPERATION_ID/);
  });

  it('the usage is generated from the schemas: enums listed, defaults decide --x or --no-x', () => {
    expect(verbUsage('logs')).toMatch(/\[--stream both\|stdout\|stderr\]/);
    expect(verbUsage('logs')).toMatch(/\[--no-timestamps\]/);
    expect(verbUsage('deploy')).toMatch(/\[--no-pull\] \[--ref R\] \[--dry-run\]/);
    expect(verbUsage('deploy')).not.toMatch(/wait-seconds/);
    expect(verbUsage('stop')).toMatch(/^ {2}loop-ops-mcp stop CONTAINER \[--target NAME\] \[--app NAME\] --confirm CONTAINER \[--force\]$/);
    expect(HUMAN_USAGE.split('\n').every((l) => l.length <= 100)).toBe(true);
    expect(verbHelp('logs')).toMatch(/--stream VALUE +Which output stream to read\. One of: both, stdout, stderr\. Default: both\./);
  });

  it('a failure reads without the fence a model needs, NAS text neutralized', () => {
    expect(failureText({ kind: 'failed', tool: 'stop', message: 'no such container \u001b[31mx', nasText: true })).toBe('stop failed:\nno such container \ufffd[31mx');
    expect(failureText({ kind: 'failed', tool: 'stop', message: 'refused', hint: 'h' })).toBe('refused');
    expect(failureText({ kind: 'internal', tool: 'status', message: 'boom' })).toBe('Internal error in status: boom');
  });
});

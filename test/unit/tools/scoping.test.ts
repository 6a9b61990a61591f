import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ToolInventory } from '../../../src/tools/inventory.js';
import { defineTool, ToolError, type ToolContext } from '../../../src/tools/types.js';

const scopes = [
  { target: 'prod', app: 'loop-api', strategy: 'blue-green', services: { id: 'prod/loop-api' } },
  { target: 'prod', app: 'loop-auth', strategy: 'recreate', services: { id: 'prod/loop-auth' } },
  { target: 'staging', app: 'loop-api', strategy: 'blue-green', services: { id: 'staging/loop-api' } },
];
type Svc = { id: string };

const whoami = defineTool({
  name: 'whoami',
  title: 'Who am I',
  description: 'Says which app services the call was given, for the scoping test.',
  inputSchema: { note: z.string().max(10).optional().describe('Anything') },
  outputSchema: { id: z.string(), args: z.record(z.string(), z.unknown()) },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  scope: 'app-or-all',
  handler: (s: Svc) => async (args) => ({ structured: { id: s.id, args }, text: s.id }),
  fleetHandler: (f: { scopes: typeof scopes }) => async () => ({ structured: { id: `all:${f.scopes.length}`, args: {} }, text: 'all' }),
});

const blueGreenOnly = defineTool({ ...whoami, name: 'bg_only', scope: 'app', fleetHandler: undefined });
const both = defineTool({ ...whoami, name: 'both', scope: 'app', fleetHandler: undefined, strategies: { recreate: (s: Svc) => async () => ({ structured: { id: `recreate:${s.id}`, args: {} }, text: '' }) } });

const ctx = {} as ToolContext;

describe('tools per target and app', () => {
  const inv = ToolInventory.create([whoami, blueGreenOnly, both], { scopes, fleet: { scopes } }, { readOnly: false });
  const run = (tool: string, args: Record<string, unknown>) => {
    const shape = inv.inputSchemaOf(tool)!;
    return inv.runnerOf(tool)!(z.object(shape).strict().parse(args), ctx);
  };

  it('adds target and app as enums of the configured names; target defaults to the first', () => {
    const shape = inv.inputSchemaOf('bg_only')!;
    const parsed = z.object(shape).strict().parse({});
    expect(parsed.target).toBe('prod');
    expect(parsed.app).toBeUndefined();
    expect(() => z.object(shape).strict().parse({ target: 'qa' })).toThrow();
    expect(() => z.object(shape).strict().parse({ app: 'redis' })).toThrow();
    // app-or-all: no default target, so "neither" can mean every app
    expect(z.object(inv.inputSchemaOf('whoami')!).strict().parse({}).target).toBeUndefined();
  });

  it("runs the named app's handler with the other arguments only; the app defaults to the target's first", async () => {
    expect((await run('bg_only', {})).structured).toEqual({ id: 'prod/loop-api', args: {} });
    expect((await run('bg_only', { target: 'staging', note: 'x' })).structured).toEqual({ id: 'staging/loop-api', args: { note: 'x' } });
    expect((await run('both', { app: 'loop-auth' })).structured.id).toBe('recreate:prod/loop-auth');
  });

  it('refuses an app the target does not have, and a strategy the tool does not serve, with what exists', async () => {
    await expect(run('bg_only', { target: 'staging', app: 'loop-auth' })).rejects.toThrow(ToolError);
    await expect(run('bg_only', { target: 'staging', app: 'loop-auth' })).rejects.toMatchObject({ code: 'not_found', hint: 'Apps on staging: loop-api.' });
    await expect(run('bg_only', { app: 'loop-auth' })).rejects.toMatchObject({ code: 'not_applicable', message: expect.stringContaining('recreate strategy') });
  });

  it('app-or-all: neither target nor app asks the fleet handler; either one picks an app', async () => {
    expect((await run('whoami', {})).structured.id).toBe('all:3');
    expect((await run('whoami', { target: 'staging' })).structured.id).toBe('staging/loop-api');
    expect((await run('whoami', { app: 'loop-api' })).structured.id).toBe('prod/loop-api');
  });

  it('with one app, "every app" is that app', async () => {
    const one = ToolInventory.create([whoami], { scopes: [scopes[0]!], fleet: { scopes: [scopes[0]!] } }, { readOnly: false });
    expect((await one.runnerOf('whoami')!({}, ctx)).structured.id).toBe('prod/loop-api');
  });
});

describe('a write tool and the app status snapshot', () => {
  it("drops the app's kept status when the write begins and when it returns (or fails), and no other app's", async () => {
    const { ReadCoalescer } = await import('../../../src/ops/coalesce.js');
    const mk = () => new ReadCoalescer({ ttlMs: 60_000 });
    const apps = [
      { target: 'prod', app: 'loop-api', strategy: 'blue-green', services: { id: 'prod/loop-api', reads: mk() } },
      { target: 'prod', app: 'loop-auth', strategy: 'blue-green', services: { id: 'prod/loop-auth', reads: mk() } },
    ];
    type S = (typeof apps)[number]['services'];
    let n = 0;
    const status = (s: S) => s.reads.run('status:5', async () => `read ${++n}`);
    const keptDuringWrite: number[] = [];
    const write = defineTool({
      ...whoami,
      name: 'poke',
      description: 'A write tool for this test: records whether a status was still kept while it ran.',
      access: 'write',
      scope: 'app',
      fleetHandler: undefined,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
      handler: (s: S) => async (args) => {
        keptDuringWrite.push(s.reads.keptCount);
        await status(s); // a status while the write runs is read afresh, and may be kept…
        if (args.note === 'fail') throw new Error('the write failed');
        return { structured: { id: s.id, args }, text: '' };
      },
    });
    const inv = ToolInventory.create([write], { scopes: apps, fleet: { scopes: apps } }, { readOnly: false });
    const [api, auth] = [apps[0]!.services, apps[1]!.services];
    await status(api);
    await status(auth);
    expect([api.reads.keptCount, auth.reads.keptCount]).toEqual([1, 1]);
    await inv.runnerOf('poke')!({ app: 'loop-api' }, ctx);
    expect(keptDuringWrite).toEqual([0]);
    expect(api.reads.keptCount).toBe(0); // …but not past the write's end
    expect(auth.reads.keptCount).toBe(1);
    await status(api);
    await expect(inv.runnerOf('poke')!({ app: 'loop-api', note: 'fail' }, ctx)).rejects.toThrow('the write failed');
    expect(api.reads.keptCount).toBe(0);
  });
});

/**
 * The guard's structured outcome (runTool, through the runtime) and its MCP
 * rendering (toCallToolResult), with the fake tools: no NAS, no transport.
 */
import { describe, expect, it } from 'vitest';
import { runtimeOf } from '../../../src/runtime.js';
import { toCallToolResult, type ToolOutcome } from '../../../src/tools/guard.js';
import type { Caller } from '../../../src/tools/types.js';
import { SUDO_PASSWORD, testConfig, testDeps } from '../server/fixtures.js';

const reader: Caller = { id: 'reader', transport: 'cli', scopes: ['ops:read'] };
const writer: Caller = { id: 'writer', transport: 'cli', scopes: ['ops:read', 'ops:write'] };
const live = () => new AbortController().signal;
const textOf = (o: ToolOutcome) => toCallToolResult(o).content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

describe('runTool outcomes', () => {
  it('ok: structured output and text, progress reported through the sink given', async () => {
    const rt = runtimeOf(testDeps());
    const seen: Array<[string, number, number | undefined]> = [];
    const o = await rt.call('echo_status', reader, { name: 'ann', count: 2 }, live(), { progress: (m, p, t) => void seen.push([m, p, t]) });
    expect(o).toMatchObject({ kind: 'ok', structured: { greeting: 'hello ann, hello ann', count: 2 }, text: 'hello ann, hello ann (caller reader)' });
    expect(seen).toEqual([['starting', 0, 2], ['half way', 1, 2], ['done', 2, 2]]);
    expect(toCallToolResult(o).structuredContent).toEqual({ greeting: 'hello ann, hello ann', count: 2 });
    await rt.close();
  });

  it('denied: a write tool without ops:write; the MCP text carries the hint line', async () => {
    const deps = testDeps();
    const rt = runtimeOf(deps);
    const o = await rt.call('restart_color', reader, { color: 'blue' }, live());
    expect(o).toMatchObject({ kind: 'denied', code: 'policy', message: expect.stringMatching(/needs the ops:write scope/) });
    expect(textOf(o)).toMatch(/needs the ops:write scope[^\n]*\nHint: Reconnect with a token that carries ops:write\.$/);
    expect(deps.services.calls.restart_color).toBeUndefined();
    await rt.close();
  });

  it('denied: a tool this process does not offer (read-only hides write tools)', async () => {
    const rt = runtimeOf(testDeps({ config: testConfig({ server: { readOnly: true } }) }));
    const o = await rt.call('restart_color', writer, { color: 'blue' }, live());
    expect(o).toMatchObject({ kind: 'denied', code: 'unknown_tool', message: expect.stringMatching(/read-only/) });
    await rt.close();
  });

  it('invalid: arguments checked against the input schema when asked, one issue per field', async () => {
    const deps = testDeps();
    const rt = runtimeOf(deps);
    const o = await rt.call('echo_status', reader, { name: '', count: 9, extra: 1 }, live(), { validate: rt.inventory.inputSchemaOf('echo_status')! });
    expect(o.kind).toBe('invalid');
    if (o.kind === 'ok') throw new Error('unreachable');
    expect(o.issues?.map((i) => i.field).sort()).toEqual(['count', 'extra', 'name']);
    expect(deps.services.calls.echo_status).toBeUndefined();
    await rt.close();
  });

  it('failed: an expected error with its hint and code', async () => {
    const rt = runtimeOf(testDeps());
    const o = await rt.call('locked_op', reader, {}, live());
    expect(o).toEqual({ kind: 'failed', tool: 'locked_op', message: 'The deploy lock is held by alice since 10:00.', hint: 'Wait for her deploy to finish, or release the lock.', code: 'locked' });
    expect(textOf(o)).toBe('The deploy lock is held by alice since 10:00.\nHint: Wait for her deploy to finish, or release the lock.');
    expect(toCallToolResult(o).isError).toBe(true);
    await rt.close();
  });

  it('internal: an unexpected error, scrubbed of secret values', async () => {
    const rt = runtimeOf(testDeps());
    const o = await rt.call('crash_op', reader, {}, live());
    expect(o.kind).toBe('internal');
    expect(JSON.stringify(o)).not.toContain(SUDO_PASSWORD);
    expect(textOf(o)).toMatch(/^Internal error in crash_op: sudo: echo \[redacted\]/);
    await rt.close();
  });

  it('cancelled: the signal aborts the call; close() then finds nothing in flight', async () => {
    const deps = testDeps();
    const rt = runtimeOf(deps);
    const ac = new AbortController();
    const pending = rt.call('slow_op', reader, {}, ac.signal);
    while (!deps.services.release) await new Promise((r) => setTimeout(r, 1));
    ac.abort(new Error('client went away'));
    const o = await pending;
    expect(o).toMatchObject({ kind: 'cancelled', message: 'slow_op was cancelled: client went away', code: 'aborted' });
    expect(textOf(o)).toMatch(/\nHint: Check the system state with status before retrying\.$/);
    await rt.close();
    expect(deps.closed()).toBe(1);
    await rt.close();
    expect(deps.closed()).toBe(1);
  });

  it('denied once closing: the runtime takes no new calls', async () => {
    const rt = runtimeOf(testDeps());
    await rt.close();
    const o = await rt.call('echo_status', reader, { name: 'late' }, live());
    expect(o).toMatchObject({ kind: 'denied', code: 'shutting_down' });
    expect(textOf(o)).toBe('The server is shutting down and takes no new calls.\nHint: Retry in a few seconds.');
  });
});

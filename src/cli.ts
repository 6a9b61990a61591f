#!/usr/bin/env node
/**
 * loop-ops-mcp serve --config FILE [--read-only] [--port N] [--host H] [--no-auth]
 * loop-ops-mcp stdio --config FILE [--read-only]
 * loop-ops-mcp status|logs|health|deploy|rollback|restart|stop|reset-oauth|restore-oauth|recover|release-lock|job …
 *   (the human CLI: src/cli/human.ts)
 * loop-ops-mcp oauth-clients list|revoke CLIENT_ID (src/cli/oauthClients.ts)
 * loop-ops-mcp sudoers [--config FILE] [--user NAME]   (src/cli/sudoers.ts)
 *
 * Exit codes: 0 ok / clean shutdown, 1 runtime or startup failure,
 * 2 usage or configuration error (one line per problem on stderr).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import type { RootConfig } from './config/targets.js';
import { createLogger } from './log.js';
import { createRuntime, type FleetRuntime } from './runtime.js';
import { exitOnSignals, runStdio, SERVER_NAME, startHttp, StartupError, VERSION } from './server.js';
import { HUMAN_USAGE, isHumanVerb, runHuman } from './cli/human.js';
import { OAUTH_CLIENTS_USAGE, OAUTH_CLIENTS_VERB, runOAuthClients } from './cli/oauthClients.js';
import { runSudoers, SUDOERS_USAGE } from './cli/sudoers.js';
import { InventoryError } from './tools/inventory.js';

export const USAGE = `Usage:
  ${SERVER_NAME} serve --config FILE [--read-only] [--port N] [--host H] [--no-auth]
      MCP over HTTP: Streamable HTTP at /mcp, legacy SSE at /sse, /healthz.
      Needs a bearer token (LOOP_OPS_TOKEN, LOOP_OPS_TOKEN_FILE or server.tokenFile);
      --no-auth is accepted only on a loopback host and without a token.
  ${SERVER_NAME} stdio --config FILE [--read-only]
      MCP over stdin/stdout (Claude Desktop, MCP Inspector).
${HUMAN_USAGE}
${OAUTH_CLIENTS_USAGE}
${SUDOERS_USAGE}
  ${SERVER_NAME} --help | --version

Options:
  -c, --config FILE   YAML or JSON configuration (default: $LOOP_OPS_CONFIG; env overrides apply)
      --read-only     hide every tool that changes anything
      --port N        HTTP port (default: server.port, 8765)
      --host H        bind address (default: server.host, 127.0.0.1)
      --no-auth       serve HTTP without authentication (loopback only)
  -h, --help          this text
  -v, --version       print the version
`;

class UsageError extends Error {}

interface Parsed {
  command: 'serve' | 'stdio' | 'help' | 'version';
  config?: string;
  readOnly: boolean;
  port?: number;
  host?: string;
  noAuth: boolean;
}

export function parseCli(argv: string[]): Parsed {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c' },
        'read-only': { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        'no-auth': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help || positionals[0] === 'help') return { command: 'help', readOnly: false, noAuth: false };
  if (values.version) return { command: 'version', readOnly: false, noAuth: false };
  const [command, ...rest] = positionals;
  if (!command) throw new UsageError('missing command');
  if (command !== 'serve' && command !== 'stdio') throw new UsageError(`unknown command: ${command}`);
  if (rest.length) throw new UsageError(`unexpected argument: ${rest[0]}`);
  if (command === 'stdio') {
    for (const o of ['port', 'host', 'no-auth']) {
      if (values[o] !== undefined) throw new UsageError(`--${o} applies to "serve" only`);
    }
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    const p = String(values.port);
    if (!/^\d{1,5}$/.test(p) || Number(p) < 1 || Number(p) > 65535) throw new UsageError(`--port must be 1..65535, got "${p}"`);
    port = Number(p);
  }
  const host = values.host === undefined ? undefined : String(values.host);
  if (host !== undefined && !host.trim()) throw new UsageError('--host must not be empty');
  return {
    command,
    config: (values.config as string | undefined) ?? (process.env.LOOP_OPS_CONFIG || undefined),
    readOnly: values['read-only'] === true,
    port,
    host,
    noAuth: values['no-auth'] === true,
  };
}

function applyOverrides(config: RootConfig, p: Parsed): RootConfig {
  return {
    ...config,
    server: {
      ...config.server,
      ...(p.readOnly ? { readOnly: true } : {}),
      ...(p.port !== undefined ? { port: p.port } : {}),
      ...(p.host !== undefined ? { host: p.host } : {}),
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  // The human CLI verbs have their own options (src/cli/human.ts).
  const verb = argv[0];
  if (isHumanVerb(verb)) return runHuman(verb, argv.slice(1));
  if (verb === OAUTH_CLIENTS_VERB) return runOAuthClients(argv.slice(1));
  if (verb === 'sudoers') return runSudoers(argv.slice(1));
  let parsed: Parsed;
  try {
    parsed = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${SERVER_NAME}: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.command === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (parsed.command === 'stdio') {
    // stdout carries JSON-RPC only: whatever a library prints goes to stderr.
    console.log = console.error;
    console.info = console.error;
    console.debug = console.error;
  }

  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({ file: parsed.config });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) process.stderr.write(`${SERVER_NAME}: config: ${p}\n`);
    return 2;
  }
  const config = applyOverrides(loaded.config, parsed);
  const log = createLogger({ level: config.log.level });

  // The same runtime as the human CLI's (src/runtime.ts); metrics only where /metrics serves them.
  let runtime: FleetRuntime;
  try {
    runtime = await createRuntime(config, loaded.secrets, log, { metrics: parsed.command === 'serve' && config.metrics.enabled });
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const p of e.problems) process.stderr.write(`${SERVER_NAME}: config: ${p}\n`);
      return 2;
    }
    if (e instanceof InventoryError) {
      for (const p of e.problems) process.stderr.write(`${SERVER_NAME}: ${p}\n`);
      return 1;
    }
    throw e;
  }

  try {
    if (parsed.command === 'stdio') {
      const running = await runStdio(runtime);
      exitOnSignals(() => running.shutdown('signal'), log);
      await running.closed;
      log.flush?.();
      return 0;
    }
    const running = await startHttp(runtime, { noAuth: parsed.noAuth });
    exitOnSignals(running.shutdown, log);
    return await new Promise<number>(() => {}); // runs until a signal
  } catch (e) {
    await runtime.close().catch(() => {});
    if (e instanceof StartupError) {
      process.stderr.write(`${SERVER_NAME}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      if (code !== 0) process.exit(code);
    },
    (e) => {
      process.stderr.write(`${SERVER_NAME}: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}

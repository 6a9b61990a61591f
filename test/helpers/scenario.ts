/** What the MCP scenarios on one sandbox host share: a fresh host with our server on it, and its status. */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../src/config.js';
import { call, connect } from './mcp.js';
import { getSandbox, resetSandbox } from './sandbox.js';
import { startSandboxServer } from './server.js';

/** The fields of the status tool's output the scenarios look at. */
export async function appStatus(c: Client) {
  return (await call(c, 'status')).structuredContent as {
    liveColor: string;
    colors: Record<string, { state: string; version: string | null } | null>;
    lock: { held: boolean; holder: string | null; operationId: string | null };
    interruptedOperation: { operationId: string; phase: string; startedAt: string } | null;
    recentDeployments: Array<{ kind: string; outcome: string }>;
  };
}

/**
 * The lane's host reset before and after one describe block, and our server
 * on it (config adjusted) with a connected client.
 */
export function useSandboxServer(adjust: (c: Config) => void) {
  const h = {} as { server: Awaited<ReturnType<typeof startSandboxServer>>; client: Client };
  beforeAll(async () => {
    const sandbox = getSandbox()!;
    resetSandbox(sandbox, sandbox.lane);
    h.server = await startSandboxServer(adjust);
    h.client = await connect(h.server.url);
  });
  afterAll(async () => {
    await h.client?.close();
    await h.server?.shutdown();
    const sandbox = getSandbox()!;
    resetSandbox(sandbox, sandbox.lane);
  });
  return h;
}

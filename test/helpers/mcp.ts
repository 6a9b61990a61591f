/** What the integration tests share to talk MCP to a server on loopback. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Config } from '../../src/config.js';
import { TEST_TOKEN } from './server.js';

/** The text parts of a tool result, one per line. */
export const textOf = (r: CallToolResult): string => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/**
 * Fast gates for tests: the product's defaults (30 × 10 s, 30 s verify) would make the suite slow.
 * The sandbox app answers within a second of its start; 40 × 250 ms leaves room for the slow
 * starters (slow:4) on a busy machine, and a failing version fails its gate in 10 s.
 */
export function fastDeploy(c: Config): void {
  c.deploy.healthAttempts = 40;
  c.deploy.healthIntervalMs = 250;
  c.deploy.verifySeconds = 1;
  c.deploy.verifyIntervalMs = 250;
  c.deploy.toolWaitSeconds = 180;
}

/** An SDK client over Streamable HTTP with the test token. */
export async function connect(url: string, name = 'it'): Promise<Client> {
  const c = new Client({ name, version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  return c;
}

/** A tool call that may outlive the SDK's default 60 s request timeout (deploys). */
export async function call(c: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await c.callTool({ name, arguments: args }, undefined, { timeout: 300_000 })) as CallToolResult;
}

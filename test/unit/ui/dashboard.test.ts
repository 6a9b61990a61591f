/**
 * The dashboard as MCP Apps hosts discover it: the tool points at a `ui://`
 * resource, the resource is one self-contained HTML file of the right mime
 * type and size, and initialize advertises what it did before plus resources.
 * (The view itself runs in a browser in test/e2e/dashboard.test.ts.)
 */
import { RESOURCE_MIME_TYPE } from '@modelcontextprotocol/ext-apps/server';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config.js';
import { createCore, createMcpServer } from '../../../src/server.js';
import { dashboardActions } from '../../../src/tools/dashboard.js';
import { allTools } from '../../../src/tools/index.js';
import { DASHBOARD_URI } from '../../../src/ui/dashboard-uri.js';
import { VERSION } from '../../../src/version.js';
import { testDeps } from '../server/fixtures.js';

async function connect(readOnly = false) {
  const config = configSchema.parse({
    nas: { username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
    server: { readOnly },
  });
  // Listing and reading the view touch no service.
  const deps = { ...testDeps({ config }), tools: allTools, resources: [], prompts: [], services: {} as never };
  const server = createMcpServer(createCore(deps), 'stdio');
  const [c, s] = InMemoryTransport.createLinkedPair();
  await server.connect(s);
  const client = new Client({ name: 'unit', version: '1' });
  await client.connect(c);
  return client;
}

describe('dashboard (MCP Apps)', () => {
  it('the dashboard tool points at a versioned ui:// resource; status stays plain', async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    const dashboard = tools.find((t) => t.name === 'dashboard');
    expect(DASHBOARD_URI).toBe(`ui://loop-ops/dashboard-${VERSION}.html`);
    expect(dashboard?._meta).toEqual({ ui: { resourceUri: DASHBOARD_URI }, 'ui/resourceUri': DASHBOARD_URI });
    expect(dashboard?.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(tools.find((t) => t.name === 'status')?._meta).toBeUndefined();
  });

  it('initialize advertises tools as before (listChanged unchanged) and now resources', async () => {
    const client = await connect();
    const caps = client.getServerCapabilities();
    expect(caps?.tools).toEqual({ listChanged: true });
    expect(caps?.resources).toBeDefined();
  });

  it('serves one self-contained HTML file under 500 KB with the MCP Apps mime type', async () => {
    const client = await connect();
    const { resources } = await client.listResources();
    expect(resources).toContainEqual(expect.objectContaining({ uri: DASHBOARD_URI, mimeType: RESOURCE_MIME_TYPE }));
    const { contents } = await client.readResource({ uri: DASHBOARD_URI });
    expect(contents).toHaveLength(1);
    const [content] = contents as Array<{ uri: string; mimeType: string; text: string; _meta?: Record<string, unknown> }>;
    expect(content!.mimeType).toBe('text/html;profile=mcp-app');
    expect(content!.uri).toBe(DASHBOARD_URI);
    const html = content!.text;
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(Buffer.byteLength(html)).toBeLessThan(500 * 1024);
    // Everything inlined: no external script, stylesheet, or any src/href attribute at all.
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).toMatch(/<script>[\s\S]+<\/script>/);
    expect(html).toMatch(/<style>[\s\S]+<\/style>/);
    // No CSP declared: the spec's restrictive default (no network) applies.
    expect(content!._meta).toEqual({ ui: { prefersBorder: true } });
  });

  it('offers Rollback only to callers that may write, and rollback-to only once rollback takes `to`', () => {
    const both = ['ops:read', 'ops:write'];
    expect(dashboardActions({ readOnly: false, scopes: both, rollbackInput: {} })).toEqual({ rollback: true, rollbackTo: false });
    expect(dashboardActions({ readOnly: false, scopes: both, rollbackInput: { to: {} } })).toEqual({ rollback: true, rollbackTo: true });
    expect(dashboardActions({ readOnly: false, scopes: ['ops:read'], rollbackInput: { to: {} } })).toEqual({ rollback: false, rollbackTo: false });
    expect(dashboardActions({ readOnly: true, scopes: both, rollbackInput: { to: {} } })).toEqual({ rollback: false, rollbackTo: false });
  });

  it('read-only servers keep the dashboard (a read tool) and its view', async () => {
    const client = await connect(true);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('dashboard');
    const { contents } = await client.readResource({ uri: DASHBOARD_URI });
    expect(contents[0]?.mimeType).toBe(RESOURCE_MIME_TYPE);
  });
});

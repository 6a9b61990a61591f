/**
 * The `ui://` resources behind tools that declare one (MCP Apps). Only
 * registered when such a tool is exposed, so a server without them
 * advertises exactly the capabilities it did before.
 */
import { RESOURCE_MIME_TYPE, registerAppResource } from '@modelcontextprotocol/ext-apps/server';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { AnyToolDefinition } from '../tools/types.js';
import { DASHBOARD_URI } from './dashboard-uri.js';
import { loadDashboardHtml } from './html.js';

export function registerUiResources(server: McpServer, tools: readonly AnyToolDefinition[]): void {
  if (!tools.some((t) => t.ui?.resourceUri === DASHBOARD_URI)) return;
  registerAppResource(
    server,
    'Deploy dashboard',
    DASHBOARD_URI,
    { description: 'The loop-ops deploy dashboard (one self-contained HTML file), rendered by hosts for the `dashboard` tool.' },
    async () => ({
      contents: [
        {
          uri: DASHBOARD_URI,
          mimeType: RESOURCE_MIME_TYPE,
          text: await loadDashboardHtml(),
          // No csp: the view needs no network at all (it talks to the host only), so the spec's
          // restrictive default (connect-src 'none') applies.
          _meta: { ui: { prefersBorder: true } },
        },
      ],
    }),
  );
}

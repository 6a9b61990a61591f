/**
 * A minimal MCP Apps host page, as ChatGPT or Claude would be one: an SDK
 * client connected to the real server (same-origin /mcp, proxied by the
 * test), the tool's `ui://` view read with resources/read and shown in an
 * iframe `sandbox="allow-scripts"` under the spec's default CSP, and
 * AppBridge + PostMessageTransport between them. Like a real host it asks
 * the user (window.confirm) before an app-initiated call to a tool that is
 * not read-only, and refuses tools whose visibility excludes "app"
 * (AppBridge forwards any call; enforcing that is the host's job).
 *
 * Bundled by test/e2e/dashboard.test.ts with esbuild; the token comes in the
 * page's URL fragment (never sent over the wire by the browser).
 */
import { AppBridge, getToolUiResourceUri, PostMessageTransport } from '@modelcontextprotocol/ext-apps/app-bridge';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';

/** The spec's CSP for a view whose resource declares no `_meta.ui.csp`. */
export const DEFAULT_VIEW_CSP = [
  "default-src 'none'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "media-src 'self' data:",
  "connect-src 'none'",
].join('; ');

interface HostLog {
  ready: boolean;
  error?: string;
  /** Every tools/call the view asked for, with the host's decision. */
  calls: Array<{ name: string; arguments: unknown; decision: 'allowed' | 'declined' | 'refused'; isError?: boolean }>;
  resourceUri?: string;
  htmlBytes?: number;
}
const log: HostLog = { ready: false, calls: [] };
(window as unknown as { hostLog: HostLog }).hostLog = log;

function withCsp(html: string): string {
  const meta = `<meta http-equiv="Content-Security-Policy" content="${DEFAULT_VIEW_CSP}">`;
  return /<head[^>]*>/i.test(html) ? html.replace(/<head[^>]*>/i, (m) => `${m}${meta}`) : `${meta}${html}`;
}

async function main(): Promise<void> {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
  const client = new Client({ name: 'loop-ops-test-host', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', location.href), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));

  const { tools } = await client.listTools();
  const byName = new Map<string, Tool>(tools.map((t) => [t.name, t]));
  const dashboard = byName.get('dashboard');
  const uri = dashboard && getToolUiResourceUri(dashboard);
  if (!uri) throw new Error('the dashboard tool declares no ui resource');
  log.resourceUri = uri;
  const resource = await client.readResource({ uri });
  const content = resource.contents[0] as { text?: string; mimeType?: string } | undefined;
  if (!content?.text || content.mimeType !== 'text/html;profile=mcp-app') throw new Error(`unexpected view resource: ${content?.mimeType}`);
  log.htmlBytes = new TextEncoder().encode(content.text).length;

  // The model "calls" the tool; the host renders its result in the view.
  const result = (await client.callTool({ name: 'dashboard', arguments: {} })) as CallToolResult;

  const iframe = document.getElementById('view') as HTMLIFrameElement;
  const bridge = new AppBridge(
    client,
    { name: 'loop-ops-test-host', version: '1.0.0' },
    { serverTools: {}, logging: {} },
    { hostContext: { theme: 'light', displayMode: 'inline', availableDisplayModes: ['inline'], locale: 'en-GB', timeZone: 'UTC', toolInfo: { tool: dashboard } } },
  );
  bridge.onsizechange = ({ height }) => {
    if (height) iframe.style.height = `${Math.min(height, 2000)}px`;
  };
  bridge.oninitialized = () => {
    void bridge.sendToolInput({ arguments: {} }).then(() => bridge.sendToolResult(result)).then(() => (log.ready = true));
  };
  await bridge.connect(new PostMessageTransport(iframe.contentWindow!, iframe.contentWindow!));
  // After connect: connect() installs plain forwarding; this host puts its policy in front of it.
  bridge.oncalltool = async (params, extra) => {
    const tool = byName.get(params.name);
    const visibility = (tool?._meta?.ui as { visibility?: string[] } | undefined)?.visibility ?? ['model', 'app'];
    if (!tool || !visibility.includes('app')) {
      log.calls.push({ name: params.name, arguments: params.arguments, decision: 'refused' });
      throw new Error(`the view may not call ${params.name}`);
    }
    if (!tool.annotations?.readOnlyHint) {
      const ok = window.confirm(`The dashboard wants to call ${params.name}(${JSON.stringify(params.arguments ?? {})}). Allow?`);
      if (!ok) {
        log.calls.push({ name: params.name, arguments: params.arguments, decision: 'declined' });
        throw new Error('the user declined');
      }
    }
    const r = (await client.callTool(params, undefined, { signal: extra.signal, timeout: 120_000 })) as CallToolResult;
    log.calls.push({ name: params.name, arguments: params.arguments, decision: 'allowed', isError: r.isError === true });
    return r;
  };
  iframe.srcdoc = withCsp(content.text);
}

main().catch((e: unknown) => {
  log.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  document.getElementById('status')!.textContent = `host error: ${log.error}`;
});

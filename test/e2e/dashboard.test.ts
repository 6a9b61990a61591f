/**
 * The dashboard as a host shows it: headless Chromium loads a small host page
 * (test/e2e/dashboard-host/host.ts: SDK client → our real server on the
 * sandbox NAS, AppBridge + PostMessageTransport, the view in an iframe
 * `sandbox="allow-scripts"` under the spec's default CSP). It must show the
 * live color and versions; clicking Rollback (confirmed in the view, then by
 * the host) must flip the live color on the NAS — nginx's upstream file and
 * what the front serves — under continuous traffic with no failed request.
 *
 * Screenshots: test-artifacts/dashboard.png (before) and
 * test-artifacts/dashboard-rollback.png (after); with UPDATE_DOCS_SCREENSHOT=1
 * the latter is also copied to docs/dashboard.png for the README.
 * Skipped without the sandbox NAS or without /usr/bin/chromium.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Browser, Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { startLoad } from '../helpers/load.js';
import { REPO_ROOT, waitFor } from '../helpers/nas.js';
import { commitToOrigin, getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { startSandboxServer, TEST_TOKEN } from '../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const sandbox = getSandbox();
const skipReason = !sandbox ? sandboxSkipReason() : !existsSync(CHROMIUM) ? `${CHROMIUM} is not installed; apt-get install chromium, as .ci/run does` : '';
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');

function fastDeploy(c: Config): void {
  c.deploy.healthAttempts = 40;
  c.deploy.healthIntervalMs = 250;
  c.deploy.verifySeconds = 1;
  c.deploy.verifyIntervalMs = 250;
  c.deploy.toolWaitSeconds = 180;
}

const HOST_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>test host</title>
<style>
  body { margin: 0; padding: 16px; background: #eef0f4; font: 14px system-ui, sans-serif; color: #333; }
  .turn { max-width: 800px; background: #fff; border-radius: 14px; padding: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  .call { font-size: 12px; color: #666; margin: 0 0 8px 4px; }
  iframe { width: 100%; height: 520px; border: 1px solid #dde1e8; border-radius: 10px; display: block; }
</style></head>
<body><div class="turn"><p class="call" id="status">tool call: <code>dashboard</code> · rendered by a test MCP Apps host</p>
<iframe id="view" sandbox="allow-scripts" title="loop-ops dashboard"></iframe></div>
<script src="/host.js"></script></body></html>`;

/** Serves the host page and its script, and passes /mcp on to the real server (same origin for the browser). */
async function startHostServer(mcpUrl: string): Promise<{ url: string; server: Server }> {
  const { build } = await import('esbuild');
  const bundle = await build({
    entryPoints: [join(REPO_ROOT, 'test', 'e2e', 'dashboard-host', 'host.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    logLevel: 'silent',
  });
  const hostJs = bundle.outputFiles[0]!.text;
  const target = new URL(mcpUrl);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/' && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(HOST_PAGE);
    } else if (path === '/host.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(hostJs);
    } else if (path === '/mcp') {
      // Streamed both ways: Streamable HTTP answers with server-sent events.
      const upstream = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const liveColorOnNas = () => {
  const up = readFileSync(sandbox!.nginx.upstreamFile, 'utf8');
  return up.includes(`:${sandbox!.app.colorPorts.blue};`) ? 'blue' : up.includes(`:${sandbox!.app.colorPorts.green};`) ? 'green' : `unknown (${up.trim()})`;
};
const frontVersion = async () => ((await (await fetch(`${sandbox!.frontUrl}/health`)).json()) as { version?: string }).version;

describe.skipIf(skipReason !== '')(`dashboard in a test MCP Apps host${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let running: Awaited<ReturnType<typeof startSandboxServer>>;
  let client: Client;
  let host: { url: string; server: Server };
  let browser: Browser;
  const initial = sandbox?.app.initialVersion ?? '';
  const next = '1.7.0';

  beforeAll(async () => {
    resetSandbox(sandbox!, sandbox!.lane);
    running = await startSandboxServer(fastDeploy);
    client = new Client({ name: 'e2e-dashboard', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${running.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
    // Two colors to switch between: the initial version on blue, a deploy puts the next on green.
    commitToOrigin(sandbox!, { VERSION: next }, `v${next}`);
    const r = (await client.callTool({ name: 'deploy_blue_green', arguments: {} }, undefined, { timeout: 300_000 })) as CallToolResult;
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    expect(liveColorOnNas()).toBe('green');
    host = await startHostServer(`${running.url}/mcp`);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (host?.server ? host.server.close(() => r()) : r()));
    await client?.close();
    await running?.shutdown();
    resetSandbox(sandbox!, sandbox!.lane);
  }, 120_000);

  it('shows the live color and versions, and its Rollback flips the live color on the NAS', async () => {
    const page: Page = await browser.newPage({ viewport: { width: 840, height: 900 } });
    const messages: string[] = [];
    page.on('console', (m) => messages.push(m.text()));
    page.on('pageerror', (e) => messages.push(`pageerror: ${e.message}`));
    const dialogs: string[] = [];
    let answer: 'accept' | 'dismiss' = 'dismiss';
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void (answer === 'accept' ? d.accept() : d.dismiss());
    });

    await page.goto(`${host.url}/#token=${TEST_TOKEN}`);
    const hostLog = () => page.evaluate(() => (window as unknown as { hostLog: { ready: boolean; error?: string; calls: Array<{ name: string; decision: string; isError?: boolean }>; htmlBytes?: number } }).hostLog);
    const ready = await waitFor(hostLog, (l) => l.ready || l.error !== undefined, 30_000);
    expect(ready.error).toBeUndefined();
    expect(ready.ready).toBe(true);
    expect(ready.htmlBytes).toBeLessThan(500 * 1024);

    const view = page.frameLocator('#view');
    const text = async (testId: string) => (await view.locator(`[data-testid="${testId}"]`).textContent({ timeout: 20_000 }))?.trim();
    expect(await text('live-color')).toBe('green');
    expect(await text('live-version')).toBe(`v${next}`);
    expect(await text('version-green')).toBe(next);
    expect(await text('version-blue')).toBe(initial);
    expect(await text('health-green')).toBe('healthy');
    expect(await text('lock')).toContain('lock free');
    expect(await view.locator('[data-testid="timeline"] li').count()).toBeGreaterThanOrEqual(1);
    expect(await view.locator('[data-testid="timeline"] li').first().textContent()).toContain('deploy');

    // The view really runs under connect-src 'none': it cannot reach anything but the host.
    const frame = page.frames().find((f: Frame) => f !== page.mainFrame());
    expect(frame).toBeDefined();
    const fetched = await frame!.evaluate((u) => fetch(u).then(() => 'reached', () => 'blocked'), `${running.url}/healthz`);
    expect(fetched).toBe('blocked');
    expect(messages.some((m) => /connect-src 'none'/.test(m))).toBe(true);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('.turn').screenshot({ path: join(ARTIFACTS, 'dashboard.png') });

    // Cancelled in the view: the host is not even asked.
    await view.locator('[data-testid="rollback"]').click();
    await view.locator('[data-testid="cancel-rollback"]').click();
    expect(dialogs).toEqual([]);
    // Declined at the host's confirmation: nothing is called, nothing changes.
    await view.locator('[data-testid="rollback"]').click();
    await view.locator('[data-testid="confirm-rollback"]').click();
    expect(await waitFor(() => text('notice'), (t) => /not done/.test(t ?? ''), 20_000, 100)).toBe('rollback not done: the user declined');
    expect(dialogs).toHaveLength(1);
    expect((await hostLog()).calls.filter((c) => c.name === 'rollback')).toEqual([{ name: 'rollback', arguments: {}, decision: 'declined' }]);
    expect(liveColorOnNas()).toBe('green');
    expect(await text('live-color')).toBe('green');

    // Accepted: the rollback runs through the host, under traffic.
    answer = 'accept';
    const load = startLoad(sandbox!.frontUrl);
    await view.locator('[data-testid="rollback"]').click();
    await view.locator('[data-testid="confirm-rollback"]').click();
    // The view follows the operation while the call runs, then shows its outcome.
    const outcome = await waitFor(() => text('notice'), (t) => /^Rolled back|not done|failed/.test(t ?? ''), 60_000, 250);
    const report = await load.stop('rollback from the dashboard');
    expect(outcome).toMatch(/^Rolled back green → blue \(v[^)]+\) in [\d.]+ s\.$/);
    expect(await waitFor(() => text('live-color'), (t) => t === 'blue', 10_000, 100)).toBe('blue');

    // The host asked once more, for rollback, and this time the call went through.
    expect(dialogs).toHaveLength(2);
    for (const d of dialogs) expect(d).toMatch(/call rollback\(\{\}\)/);
    const calls = (await hostLog()).calls;
    expect(calls.filter((c) => c.name === 'rollback').map((c) => c.decision)).toEqual(['declined', 'allowed']);
    expect(calls.filter((c) => c.name === 'rollback')[1]).toMatchObject({ isError: false });
    expect(calls.some((c) => c.name === 'status' && c.decision === 'allowed')).toBe(true);

    // On the NAS: nginx routes to blue, and the front serves the initial version.
    expect(liveColorOnNas()).toBe('blue');
    expect(await frontVersion()).toBe(initial);
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.versions).toContain(initial);

    expect(await text('live-version')).toBe(`v${initial}`);
    expect(await view.locator('[data-testid="timeline"] li').first().textContent()).toContain('rollback');
    await page.locator('.turn').screenshot({ path: join(ARTIFACTS, 'dashboard-rollback.png') });
    if (process.env.UPDATE_DOCS_SCREENSHOT === '1') {
      mkdirSync(join(REPO_ROOT, 'docs'), { recursive: true });
      copyFileSync(join(ARTIFACTS, 'dashboard-rollback.png'), join(REPO_ROOT, 'docs', 'dashboard.png'));
    }

    // Nothing left behind: the lock is free and no operation is unfinished.
    const st = (await client.callTool({ name: 'status', arguments: {} })) as CallToolResult;
    const sc = st.structuredContent as { liveColor: string; lock: { held: boolean }; interruptedOperation: unknown };
    expect(sc).toMatchObject({ liveColor: 'blue', lock: { held: false }, interruptedOperation: null });
    expect(messages.filter((m) => /pageerror|Uncaught/.test(m))).toEqual([]);
  });
});

/**
 * The consent page in a real browser (headless Chromium via playwright-core):
 * it renders under its CSP without violations, a wrong passphrase shows the
 * error, the right one redirects to the client's redirect URI with a code
 * (CSP form-action must allow that redirect), and the code works.
 * Screenshot: test-artifacts/authorize.png. Skipped without /usr/bin/chromium.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import { API_TOKEN, SUDO_PASSWORD, testConfig, testDeps } from '../unit/server/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const PUBLIC = 'https://ops.example.test';
const PASSPHRASE = 'correct horse battery staple';
const REDIRECT = 'https://claude.ai/api/mcp/auth_callback';

describe.skipIf(!existsSync(CHROMIUM))(`consent page in headless Chromium${existsSync(CHROMIUM) ? '' : ' (skipped: /usr/bin/chromium is not installed; apt-get install chromium, as .ci/run does)'}`, () => {
  let dir: string;
  let running: RunningHttp;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'loop-ops-oauth-browser-'));
    const parsed = configSchema.parse({
      nas: { username: 'ops', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
      sudo: { mode: 'none' },
      auth: { oauth: { enabled: true, publicBaseUrl: PUBLIC, stateFile: join(dir, 'oauth.json') } },
    });
    const deps = testDeps({
      config: { ...testConfig(), auth: parsed.auth },
      secrets: { sudoPassword: SUDO_PASSWORD, apiToken: API_TOKEN, adminPassphrase: PASSPHRASE },
    });
    running = await startHttp(deps, { oauth: { throttle: { baseDelayMs: 10 } } });
  });
  afterAll(async () => {
    await running?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders, refuses a wrong passphrase, approves, redirects with a code', async () => {
    const { chromium } = await import('playwright-core');
    const url = running.url;
    const reg = await fetch(`${url}/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: 'Claude', token_endpoint_auth_method: 'none' }),
    });
    const client = (await reg.json()) as { client_id: string };
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: REDIRECT,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      state: 'browser-state',
      scope: 'ops:read ops:write offline_access',
      resource: `${PUBLIC}/mcp`,
    });

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 720, height: 760 } });
      const cspErrors: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) cspErrors.push(m.text());
      });
      // The redirect target is not reachable from here (no network): the browser's request to it is
      // the proof that CSP form-action let the redirect through.

      await page.goto(`${url}/authorize?${q}`);
      expect(await page.textContent('h1')).toBe('Allow access to Loop Ops?');
      expect(await page.textContent('main')).toContain('claude.ai');
      // Styles applied (nonce accepted): the main card has a white background.
      const bg = await page.$eval('main', (el) => getComputedStyle(el).backgroundColor);
      expect(bg).toBe('rgb(255, 255, 255)');
      mkdirSync('test-artifacts', { recursive: true });
      await page.screenshot({ path: 'test-artifacts/authorize.png', fullPage: true });

      await page.fill('#passphrase', 'wrong wrong wrong');
      await Promise.all([page.waitForLoadState('load'), page.click('button[value=approve]')]);
      expect(await page.textContent('.err')).toBe('Wrong passphrase.');
      await new Promise((r) => setTimeout(r, 30)); // past the (test-sized) throttle delay

      await page.check('input[value=read]');
      await page.fill('#passphrase', PASSPHRASE);
      const [req] = await Promise.all([page.waitForRequest(/^https:\/\/claude\.ai\//), page.click('button[value=approve]')]);
      const back = new URL(req.url());
      expect(back.origin + back.pathname).toBe(REDIRECT);
      expect(back.searchParams.get('state')).toBe('browser-state');
      const code = back.searchParams.get('code');
      expect(code).toMatch(/^lo_ac_/);
      expect(cspErrors).toEqual([]);

      const tok = await fetch(`${url}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', client_id: client.client_id, code: code!, code_verifier: verifier, redirect_uri: REDIRECT }),
      });
      expect(tok.status).toBe(200);
      expect(((await tok.json()) as { scope: string }).scope).toBe('ops:read offline_access');
    } finally {
      await browser.close();
    }
  });
});

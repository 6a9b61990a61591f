/**
 * Several targets and apps in one server, against the sandbox's two hosts:
 * `prod` (today's sandbox NAS) and `staging` (its own network namespace:
 * own sshd and host key, dockerd, nginx front, checkouts), each with loop-api
 * (blue-green) and loop-auth (recreate). A deploy on staging never waits for
 * nor touches prod; deploys on both at once both succeed; every write keeps
 * both fronts serving (zero failed requests).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitTo, startFleetServer, targetFacts } from '../helpers/fleet.js';
import { startLoad } from '../helpers/load.js';
import { call, connect, textOf } from '../helpers/mcp.js';
import { getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
const targets = sandbox ? targetFacts() : undefined;
const skip = !sandbox ? sandboxSkipReason() : !targets?.staging ? 'the sandbox has no staging target' : '';

type Row = { target: string; app: string; strategy: string; serving: string | null; version: string | null; lock: { held: boolean }; error: string | null };

describe.skipIf(!!skip)(`several targets and apps${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let server: Awaited<ReturnType<typeof startFleetServer>>;
  let client: Client;
  const front = (target: string) => targets![target]!.apps['loop-api']!.frontUrl as string;
  const versionOf = async (target: string) => {
    const r = await call(client, 'status', { target, app: 'loop-api' });
    const st = r.structuredContent as { liveColor: 'blue' | 'green'; colors: Record<string, { version: string | null } | null>; lock: { held: boolean } };
    return { version: st.colors[st.liveColor]?.version ?? null, lock: st.lock };
  };

  beforeAll(async () => {
    resetSandbox(sandbox!);
    server = await startFleetServer();
    client = await connect(server.url);
  });

  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    await server?.deps.close();
    resetSandbox(sandbox!);
  });

  it('status without target or app: one row per app of every target, in one call', async () => {
    const r = await call(client, 'status');
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const rows = (r.structuredContent as { apps: Row[] }).apps;
    expect(rows.map((x) => `${x.target}/${x.app}:${x.strategy}`)).toEqual([
      'prod/loop-api:blue-green',
      'prod/loop-auth:recreate',
      'staging/loop-api:blue-green',
      'staging/loop-auth:recreate',
    ]);
    for (const row of rows) {
      expect(row.error, `${row.target}/${row.app}`).toBeNull();
      expect(row.serving, `${row.target}/${row.app}`).not.toBeNull();
    }
    expect(textOf(r)).toMatch(/^prod:\n {2}loop-api \(blue-green\): loop-api-blue running/m);
    expect(textOf(r)).toMatch(/^staging:/m);
  });

  it('a deploy on staging under load on both fronts: staging changes version with 0 failed requests, prod untouched', async () => {
    commitTo('staging', 'loop-api', { VERSION: '2.1.0' }, 'staging v2.1.0');
    const before = await versionOf('prod');
    const prodLoad = startLoad(front('prod'));
    const stagingLoad = startLoad(front('staging'));
    await new Promise((r) => setTimeout(r, 300));
    // While staging deploys, prod's lock stays free: per target and app.
    const deploying = call(client, 'deploy_blue_green', { target: 'staging' });
    let prodLockSeen = false;
    const watch = (async () => {
      for (let i = 0; i < 10; i++) {
        prodLockSeen ||= (await versionOf('prod')).lock.held;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const r = await deploying;
    await watch;
    await new Promise((r) => setTimeout(r, 300));
    const [prodReport, stagingReport] = await Promise.all([prodLoad.stop(), stagingLoad.stop()]);
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect((r.structuredContent as { state: string; result: Record<string, unknown> }).result).toMatchObject({ version: '2.1.0' });
    expect(stagingReport.failures, stagingReport.failureSamples.join('\n')).toBe(0);
    expect(stagingReport.lastVersion).toBe('2.1.0');
    expect(prodReport.failures, prodReport.failureSamples.join('\n')).toBe(0);
    expect(prodReport.versions).toEqual([before.version]);
    expect(prodLockSeen).toBe(false);
    expect(await versionOf('prod')).toEqual(before);
  });

  it('deploys on both targets at once both succeed, each with zero failed requests', async () => {
    commitTo('prod', 'loop-api', { VERSION: '2.2.0' }, 'prod v2.2.0');
    commitTo('staging', 'loop-api', { VERSION: '2.3.0' }, 'staging v2.3.0');
    const prodLoad = startLoad(front('prod'));
    const stagingLoad = startLoad(front('staging'));
    const [p, s] = await Promise.all([call(client, 'deploy_blue_green', { target: 'prod' }), call(client, 'deploy_blue_green', { target: 'staging' })]);
    const [prodReport, stagingReport] = await Promise.all([prodLoad.stop(), stagingLoad.stop()]);
    expect(p.isError ?? false, textOf(p)).toBe(false);
    expect(s.isError ?? false, textOf(s)).toBe(false);
    expect(prodReport.failures, prodReport.failureSamples.join('\n')).toBe(0);
    expect(stagingReport.failures, stagingReport.failureSamples.join('\n')).toBe(0);
    expect(prodReport.lastVersion).toBe('2.2.0');
    expect(stagingReport.lastVersion).toBe('2.3.0');
    const rows = (await call(client, 'status')).structuredContent as { apps: Row[] };
    expect(rows.apps.filter((x) => x.app === 'loop-api').map((x) => [x.target, x.version, x.lock.held])).toEqual([
      ['prod', '2.2.0', false],
      ['staging', '2.3.0', false],
    ]);
  });

  it('refuses an unknown target or app with the configured names, and changes nothing', async () => {
    const r = await call(client, 'deploy_blue_green', { target: 'qa' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/Input validation error/);
    expect(textOf(r)).toMatch(/prod|staging/);
  });
});

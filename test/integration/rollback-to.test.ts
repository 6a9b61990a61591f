/**
 * Versions kept, disk bounded, against the sandbox NAS through MCP with
 * traffic flowing through the nginx front the whole time: many deploys with
 * image retention, rollback to a deployment four deploys back (a retained
 * image deployed to the idle color through gate → switch → verify), clear
 * errors for a pruned or unknown version, and the timed stop of the previous
 * color surviving a server restart.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDeployTag } from '../../src/bluegreen/retention.js';
import { readPreviousStop, writePreviousStop } from '../../src/bluegreen/previous-color.js';
import type { Config } from '../../src/config.js';
import type { DockerEngine } from '../../src/docker/index.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { startLoad } from '../helpers/load.js';
import { sandboxConfig, sandboxDocker, sandboxPool, waitFor } from '../helpers/nas.js';
import { commitToOrigin, getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { call, connect, fastDeploy, textOf } from '../helpers/mcp.js';
import { startSandboxServer } from '../helpers/server.js';

const sandbox = getSandbox();
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));


interface Status {
  liveColor: string;
  colors: Record<string, { state: string; version: string | null } | null>;
  lock: { held: boolean };
  recentDeployments: Array<{ id: string; kind: string; outcome: string; message: string | null }>;
  retainedVersions: Array<{ image: string; version: string | null; deploymentId: string | null }>;
  previousColorStop: { container: string; stopAt: string; overdue: boolean } | null;
}
const status = async (c: Client) => (await call(c, 'status', { history: 10 })).structuredContent as unknown as Status;

describe.skipIf(!sandbox)(`versions kept, disk bounded${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  const RETAIN = 3;
  let server: Awaited<ReturnType<typeof startSandboxServer>>;
  let client: Client;
  let pool: SshPool;
  let docker: DockerEngine;
  const deployIds: string[] = [];
  /** Our deploy images on the NAS, straight from the Engine. */
  const ourImages = async () => (await docker.listImages('loop-api')).filter((i) => i.tags.some((t) => parseDeployTag('loop-api', t)));

  beforeAll(async () => {
    resetSandbox(sandbox!, sandbox!.lane);
    server = await startSandboxServer((c) => {
      fastDeploy(c);
      c.deploy.retainImages = RETAIN;
    });
    client = await connect(server.url);
    pool = sandboxPool();
    docker = sandboxDocker(pool);
  });
  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    docker?.close();
    await pool?.close();
    resetSandbox(sandbox!, sandbox!.lane);
  });

  it(`keeps live, previous and ${RETAIN} more images over 6 deploys, then rolls back to a deployment four deploys back, with zero failed requests`, async () => {
    const load = startLoad(sandbox!.frontUrl);
    await pause(300);
    for (let i = 1; i <= 6; i++) {
      commitToOrigin(sandbox!, { VERSION: `3.0.${i}` }, `v3.0.${i}`);
      const r = await call(client, 'deploy_blue_green', {});
      expect(r.isError ?? false, textOf(r)).toBe(false);
      const out = (r.structuredContent as { result: { operationId: string; version: string; images: { removed: string[]; kept: unknown[] } } }).result;
      expect(out.version).toBe(`3.0.${i}`);
      deployIds.push(out.operationId);
      // live + previous + RETAIN others at most, after every deploy
      expect((await ourImages()).length).toBe(Math.min(i, RETAIN + 2));
      if (i === 6) expect(out.images.removed).toHaveLength(1);
    }
    const st = await status(client);
    expect(st.retainedVersions.map((v) => v.version)).toEqual(['3.0.6', '3.0.5', '3.0.4', '3.0.3', '3.0.2']);
    expect(st.retainedVersions[4]!.deploymentId).toBe(deployIds[1]);

    // Four deploys back from 3.0.6: deployment 2.
    const r = await call(client, 'rollback', { to: deployIds[1] });
    await pause(300);
    const report = await load.stop();
    expect(r.isError ?? false, textOf(r)).toBe(false);
    expect((r.structuredContent as { result: Record<string, unknown> }).result).toMatchObject({ version: '3.0.2', deploymentId: deployIds[1] });
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.lastVersion).toBe('3.0.2');
    expect(report.versions).toEqual(['1.0.0', '3.0.1', '3.0.2', '3.0.3', '3.0.4', '3.0.5', '3.0.6']);
    const after = await status(client);
    expect(after.colors[after.liveColor]).toMatchObject({ state: 'running', version: '3.0.2' });
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'rollback', outcome: 'succeeded' });
    expect(after.lock.held).toBe(false);
  }, 480_000);

  it('says clearly when a version was pruned, is unknown or is already live, listing what is kept', async () => {
    const pruned = await call(client, 'rollback', { to: deployIds[0] });
    expect(pruned.isError).toBe(true);
    expect(textOf(pruned)).toMatch(/no longer on the NAS/);
    expect(textOf(pruned)).toContain(deployIds[5]);
    const unknown = await call(client, 'rollback', { to: '9.9.9' });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/no deployment, version or image "9.9.9"/);
    expect(textOf(unknown)).toContain('version 3.0.4');
    const live = await call(client, 'rollback', { to: '3.0.2' });
    expect(live.isError).toBe(true);
    expect(textOf(live)).toMatch(/3\.0\.2 is already live/);
    expect((await status(client)).lock.held).toBe(false);
  });

  it('rolls back by version, then without `to` instantly to the previous color, with zero failed requests', async () => {
    const load = startLoad(sandbox!.frontUrl);
    await pause(300);
    const byVersion = await call(client, 'rollback', { to: '3.0.5' });
    expect(byVersion.isError ?? false, textOf(byVersion)).toBe(false);
    const back = await call(client, 'rollback');
    expect(back.isError ?? false, textOf(back)).toBe(false);
    // The instant rollback verifies with a single probe: let requests already on their way through the old workers finish.
    await pause(1000);
    const report = await load.stop();
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.versions).toEqual(['3.0.2', '3.0.5']);
    expect(report.lastVersion).toBe('3.0.2');
    // Still bounded, and nothing a container uses was removed.
    expect((await ourImages()).length).toBeLessThanOrEqual(RETAIN + 2);
  }, 180_000);
});

describe.skipIf(!sandbox)(`timed retention of the previous color${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  const adjust = (c: Config) => {
    fastDeploy(c);
    c.deploy.keepPrevious = '30';
  };
  let server: Awaited<ReturnType<typeof startSandboxServer>> | undefined;
  let client: Client | undefined;
  let pool: SshPool;
  let docker: DockerEngine;

  beforeAll(async () => {
    resetSandbox(sandbox!, sandbox!.lane);
    server = await startSandboxServer(adjust);
    client = await connect(server.url);
    pool = sandboxPool();
    docker = sandboxDocker(pool);
  });
  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    docker?.close();
    await pool?.close();
    resetSandbox(sandbox!, sandbox!.lane);
  });

  it('schedules the stop on the NAS; a server started after the due time stops the previous color, traffic untouched', async () => {
    commitToOrigin(sandbox!, { VERSION: '4.0.0' }, 'v4.0.0');
    const r = await call(client!, 'deploy_blue_green', {});
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const st = await status(client!);
    expect(st.liveColor).toBe('green');
    expect(st.previousColorStop).toMatchObject({ container: 'loop-api-blue', overdue: false });
    const minutes = (Date.parse(st.previousColorStop!.stopAt) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(25);
    expect(minutes).toBeLessThanOrEqual(30);
    expect((await docker.inspect('loop-api-blue'))!.state).toBe('running');

    // The server goes away; while it is down, the due time passes.
    await client!.close();
    await server!.shutdown();
    const stateDir = sandboxConfig().config.state.dir;
    const rec = (await readPreviousStop(pool, stateDir))!;
    await writePreviousStop(pool, stateDir, { ...rec, stopAt: new Date(Date.now() - 1000).toISOString() });

    const load = startLoad(sandbox!.frontUrl);
    server = await startSandboxServer(adjust);
    client = await connect(server.url);
    const blue = await waitFor(() => docker.inspect('loop-api-blue'), (c) => c?.state === 'exited', 30_000, 250);
    await pause(300);
    const report = await load.stop();
    expect(blue!.state).toBe('exited');
    expect(report.failures, report.failureSamples.join('\n')).toBe(0);
    expect(report.versions).toEqual(['4.0.0']);
    const after = await waitFor(() => status(client!), (s) => s.recentDeployments[0]?.kind === 'stop', 10_000, 250);
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'stop', outcome: 'succeeded' });
    expect(after.recentDeployments[0]!.message).toMatch(/keepPrevious/);
    expect(after.previousColorStop).toBeNull();
    expect(await readPreviousStop(pool, stateDir)).toBeUndefined();
  }, 180_000);
});

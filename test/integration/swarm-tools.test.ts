/**
 * The MCP tools on a `driver: swarm` target, beside the sandbox NAS (`prod`): one server, one config in the
 * targets format. The tools' names and arguments are the single host's; `status` of both kinds of app reads
 * the same (lock, history, warnings, what is live), and without target/app it summarises both. Under load
 * through the swarm front, deploy_blue_green of a new version serves it with 0 failed requests.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config.js';
import { createLogger, scrubberFor } from '../../src/log.js';
import { metricSourcesOf } from '../../src/metrics/index.js';
import { allPrompts, allResources } from '../../src/resources/index.js';
import { startHttp, type RunningHttp } from '../../src/server.js';
import { createServices, toolScopesOf } from '../../src/services.js';
import { allTools } from '../../src/tools/index.js';
import { startLoad } from '../helpers/load.js';
import { call, connect, textOf } from '../helpers/mcp.js';
import { SANDBOX_CONFIG } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { TEST_TOKEN } from '../helpers/server.js';
import { commitToSwarmOrigin, getSwarm, resetSwarm } from '../helpers/swarm.js';

const sandbox = getSandbox();
const swarm = sandbox ? getSwarm() : { facts: null, reason: sandboxSkipReason() };
const facts = swarm.facts;

type Raw = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The sandbox NAS as target `prod`, whichever format its generated config is in. */
function prodTarget(): Raw {
  const raw = parse(readFileSync(SANDBOX_CONFIG, 'utf8')) as Raw;
  if (raw.targets) return raw.targets.prod ?? Object.values(raw.targets)[0];
  const { name, ...app } = raw.app;
  const { upstreamFile, ...nginx } = raw.nginx;
  return { nas: raw.nas, sudo: raw.sudo, docker: raw.docker, nginx, state: raw.state, apps: { [name]: { strategy: 'blue-green', ...app, upstreamFile } } };
}

function swarmTarget(): Raw {
  const single = parse(readFileSync(facts!.configPath, 'utf8')) as Raw;
  const a = facts!.apps['loop-api'];
  return {
    driver: 'swarm',
    nas: single.nas,
    sudo: single.sudo,
    docker: single.docker,
    state: { dir: facts!.stateDir },
    apps: {
      'loop-api': {
        strategy: 'swarm-service',
        service: a.service,
        checkoutDir: a.checkoutDir,
        replicas: a.replicas,
        network: facts!.network,
        frontUrl: a.frontUrl,
        publicHealthUrl: a.publicHealthUrl,
        updateMonitorSeconds: 3,
        stateDir: facts!.stateDir,
      },
    },
  };
}

describe.skipIf(!facts)(`tools on a swarm target${facts ? '' : ` (skipped: ${swarm.reason})`}`, () => {
  let server: RunningHttp;
  let client: Client;
  let close: () => Promise<void>;

  beforeAll(async () => {
    resetSwarm(facts!);
    const file = join(mkdtempSync(join(tmpdir(), 'loop-swarm-')), 'config.yaml');
    writeFileSync(file, stringify({ targets: { prod: prodTarget(), swarm: swarmTarget() }, deploy: { toolWaitSeconds: 240 } }));
    const { config: root, secrets: fileSecrets } = loadConfig({ file, env: {} });
    root.server.port = 0; // ephemeral, tests only (the schema wants a real port)
    const secrets = { ...fileSecrets, apiToken: TEST_TOKEN };
    const log = createLogger({ level: process.env.LOOP_OPS_TEST_LOG ?? 'silent', pretty: false });
    const bundle = await createServices(root, secrets, log, { watchPreviousColor: false });
    close = bundle.close;
    server = await startHttp({
      config: root,
      secrets,
      log,
      scrubber: scrubberFor(secrets),
      tools: allTools,
      resources: allResources,
      prompts: allPrompts,
      services: bundle.services,
      fleet: toolScopesOf(bundle.fleet),
      observe: metricSourcesOf(bundle.services),
      probeNas: bundle.probeNas,
      close: bundle.close,
    });
    client = await connect(server.url);
  });
  afterAll(async () => {
    await client?.close();
    // shutdown also closes the services (deps.close).
    await (server ? server.shutdown() : close?.());
    if (facts) resetSwarm(facts);
  });

  it('status of the swarm app reads like the single host\'s, and the summary covers both kinds of target', async () => {
    const one = await call(client, 'status', { target: 'swarm', app: 'loop-api' });
    expect(one.isError).toBeFalsy();
    const st = one.structuredContent as Raw;
    expect(st).toMatchObject({ target: 'swarm', strategy: 'swarm-service', app: 'loop-api', lock: { held: false }, warnings: [] });
    expect(st.swarm).toMatchObject({ driver: 'swarm', live: { version: facts!.apps['loop-api'].initialVersion }, replicas: { desired: 2, running: 2, healthy: 2 } });
    expect(textOf(one)).toContain('2/2 replicas running');
    const prod = (await call(client, 'status', { target: 'prod' })).structuredContent as Raw;
    // The fields both kinds share have the same names and shapes.
    for (const k of ['app', 'lock', 'interruptedOperation', 'recentDeployments', 'warnings', 'checkedAt']) {
      expect(Object.keys(st)).toContain(k);
      expect(Object.keys(prod)).toContain(k);
    }
    const all = await call(client, 'status', {});
    const rows = (all.structuredContent as Raw).apps as Raw[];
    expect(rows.find((r) => r.target === 'swarm')).toMatchObject({ strategy: 'swarm-service', version: facts!.apps['loop-api'].initialVersion, health: 'healthy', error: null });
    expect(rows.find((r) => r.target === 'prod' && r.app === 'loop-api')).toMatchObject({ strategy: 'blue-green', error: null });
  });

  it('deploy_blue_green on the swarm app: the same tool, 0 failed requests through the swarm front', async () => {
    commitToSwarmOrigin(facts!, { VERSION: '1.3.0' }, 'swarm 1.3.0 through the tools');
    const load = startLoad(facts!.apps['loop-api'].frontUrl);
    const r = await call(client, 'deploy_blue_green', { target: 'swarm', app: 'loop-api', pull: true });
    const rep = await load.stop('swarm deploy via MCP');
    expect(r.isError, textOf(r)).toBeFalsy();
    expect((r.structuredContent as Raw).state).toBe('succeeded');
    expect((r.structuredContent as Raw).result).toMatchObject({ version: '1.3.0', update: { state: 'completed' } });
    expect(rep.failures, rep.failureSamples.join('\n')).toBe(0);
    expect(rep.lastVersion).toBe('1.3.0');
  });

  it('refuses what only two colors mean, with a hint; logs of one task by slot', async () => {
    const to = await call(client, 'rollback', { target: 'swarm', app: 'loop-api', to: '1.0.0' });
    expect(to.isError).toBe(true);
    expect(textOf(to)).toMatch(/does not apply to a Swarm service/);
    // release_lock works on the app's own lock (free here); recover is blue-green's and says so.
    const rel = await call(client, 'release_lock', { target: 'swarm', app: 'loop-api', confirm: 'deploy-none' });
    expect(rel.isError, textOf(rel)).toBeFalsy();
    expect((rel.structuredContent as Raw).released).toBe(false);
    expect(textOf(rel)).toMatch(/the lock is free/);
    const logs = await call(client, 'logs', { target: 'swarm', app: 'loop-api', container: '1', lines: 20 });
    expect(logs.isError, textOf(logs)).toBeFalsy();
    expect((logs.structuredContent as Raw).container).toMatch(/^loop-api\.1 /);
  });

  it('rollback on the swarm app returns to the previous version under load: 0 failed requests', async () => {
    const load = startLoad(facts!.apps['loop-api'].frontUrl);
    const r = await call(client, 'rollback', { target: 'swarm', app: 'loop-api' });
    const rep = await load.stop('swarm rollback via MCP');
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(rep.failures, rep.failureSamples.join('\n')).toBe(0);
    expect(rep.lastVersion).toBe(facts!.apps['loop-api'].initialVersion);
  });
});

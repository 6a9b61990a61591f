/**
 * The sandbox's two hosts are two hosts: prod (this machine's loopback) and
 * staging (its own network namespace). Checked the way the product sees them,
 * through real SSH with each host's pinned key, each host's own sudo rules
 * and Docker engine, and each host's nginx front. Read-only.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import type { RootConfig, TargetConfig } from '../../src/config/targets.js';
import { createDockerEngine } from '../../src/docker/index.js';
import type { DockerEngine } from '../../src/docker/engine.js';
import { createNasPool, HostKeyMismatchError, targetRootRules } from '../../src/ssh/index.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { getSandbox, sandboxSkipReason, type SandboxTargetName } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/nas.js';

const sandbox = getSandbox();
const skip = !sandbox ? sandboxSkipReason() : !sandbox.targets?.staging ? 'the sandbox has no staging host (sandbox.json without targets.staging)' : '';
const names: SandboxTargetName[] = ['prod', 'staging'];

/** The target's first app's view: nas, sudo and docker are the target's (as createServices builds its pool). */
const hostConfig = (t: TargetConfig): Config => t.apps[0]!.config as Config;

describe.skipIf(!!skip)(`the sandbox hosts prod and staging${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let root: RootConfig;
  let secrets: ReturnType<typeof loadConfig>['secrets'];
  const targets = {} as Record<SandboxTargetName, TargetConfig>;
  const pools = {} as Record<SandboxTargetName, SshPool>;
  const engines = {} as Record<SandboxTargetName, DockerEngine>;

  beforeAll(() => {
    const loaded = loadConfig({ file: sandbox!.configPath, env: {} });
    root = loaded.config;
    secrets = loaded.secrets;
    for (const name of names) {
      const t = root.targets.find((x) => x.name === name);
      if (!t) throw new Error(`${sandbox!.configPath} has no target ${name}`);
      targets[name] = t;
      pools[name] = createNasPool(hostConfig(t), secrets, undefined, [], targetRootRules(t.apps));
      engines[name] = createDockerEngine(pools[name], hostConfig(t));
    }
  });

  afterAll(async () => {
    for (const name of names) await pools[name]?.close();
  });

  it('each answers SSH at its own address with its own pinned host key, and a client pinned to the other key is refused', async () => {
    const fps = names.map((n) => sandbox!.targets[n].ssh.hostKeyFingerprint);
    expect(fps[0]).toMatch(/^SHA256:/);
    expect(fps[1]).toMatch(/^SHA256:/);
    expect(fps[0]).not.toBe(fps[1]);
    for (const name of names) {
      const facts = sandbox!.targets[name].ssh;
      expect(hostConfig(targets[name]).nas.hostKeyFingerprint).toBe(facts.hostKeyFingerprint);
      // sshd tells the session which address and port it accepted the connection on.
      const r = await pools[name].exec(['/bin/sh', '-c', 'printf %s "$SSH_CONNECTION"']);
      expect(r.code).toBe(0);
      const [, , serverAddr, serverPort] = r.stdout.split(' ');
      expect(`${serverAddr}:${serverPort}`).toBe(`${facts.host}:${facts.port}`);
    }

    const staging = hostConfig(targets.staging);
    const pinnedToProd = createNasPool(
      { ...staging, nas: { ...staging.nas, hostKeyFingerprint: sandbox!.targets.prod.ssh.hostKeyFingerprint, knownHostsPath: undefined } } as Config,
      secrets,
    );
    try {
      const err = await pinnedToProd.exec(['/bin/true']).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(HostKeyMismatchError);
      expect((err as HostKeyMismatchError).seenFingerprint).toBe(sandbox!.targets.staging.ssh.hostKeyFingerprint);
    } finally {
      await pinnedToProd.close();
    }
  });

  it('each has its own Docker engine: its loop-auth is absent from the other', async () => {
    const prodAuth = await engines.prod.inspect('loop-auth');
    const stagingAuth = await engines.staging.inspect('loop-auth');
    expect(prodAuth?.state).toBe('running');
    expect(stagingAuth?.state).toBe('running');
    expect(prodAuth!.id).not.toBe(stagingAuth!.id);
    expect(await engines.staging.inspect(prodAuth!.id)).toBeUndefined();
    expect(await engines.prod.inspect(stagingAuth!.id)).toBeUndefined();
    for (const [name, info] of [['prod', prodAuth!], ['staging', stagingAuth!]] as const) {
      const app = sandbox!.targets[name].apps['loop-auth'];
      expect(info.labels['loop-ops.app']).toBe('loop-auth');
      expect(info.ports).toContain(`127.0.0.1:${app.hostPort}->${app.containerPort}/tcp`);
    }
  });

  it("each has its own nginx front: a request to one shows in that host's access log only", async () => {
    const marker = randomUUID();
    for (const name of names) {
      const res = await fetch(`${sandbox!.targets[name].apps['loop-api'].frontUrl}/health?host-check=${marker}-${name}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { status: string }).status).toBe('ok');
    }
    const logOf = (name: SandboxTargetName) => readFileSync(sandbox!.targets[name].nginx.accessLog, 'utf8');
    for (const name of names) {
      const other = name === 'prod' ? 'staging' : 'prod';
      // nginx writes the line when the response is done; give it a moment.
      const log = await waitFor(() => logOf(name), (l) => l.includes(`${marker}-${name}`), 5_000);
      expect(log).toContain(`${marker}-${name}`);
      expect(log).not.toContain(`${marker}-${other}`);
    }
  });
});

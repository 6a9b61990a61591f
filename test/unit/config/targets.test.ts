import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config.js';
import { allApps, blueGreenConfig, findApp } from '../../../src/config/targets.js';
import { targetRootRules } from '../../../src/ssh/root-commands.js';

const FP = 'SHA256:' + 'A'.repeat(43);
const FP2 = 'SHA256:' + 'B'.repeat(43);

function write(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'targets-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

const twoTargets = `
targets:
  prod:
    nas: { host: nas.local, username: admin, privateKeyPath: ./id, hostKeyFingerprint: "${FP}" }
    sudo: { passwordFile: ./prod-sudo }
    state: { dir: /volume1/docker/loop-ops }
    apps:
      loop-api:
        strategy: blue-green
        stateDir: /volume1/docker/loop-ops
      loop-auth:
        strategy: recreate
        checkoutDir: /volume1/docker/loop-auth/src
        containerPort: 8080
        hostPort: 18090
  staging:
    nas: { host: 10.0.0.9, username: ops, privateKeyPath: /keys/staging, hostKeyFingerprint: "${FP2}" }
    sudo: { mode: nopasswd }
    docker: { binary: /usr/local/bin/docker }
    apps:
      loop-api:
        frontPort: 9082
        deploy: { verifySeconds: 3 }
deploy:
  verifySeconds: 20
`;

describe('targets and apps', () => {
  it('gives each app a per-app view with its target, its own keys, defaults derived from its name, and the global sections', () => {
    const file = write(twoTargets);
    const { config: root, secrets } = loadConfig({ file, env: { LOOP_OPS_SUDO_PASSWORD: 'shared-pw', LOOP_OPS_SUDO_PASSWORD_PROD: 'prod-pw' } });
    expect(root.singleNas).toBe(false);
    expect(root.targets.map((t) => [t.name, t.apps.map((a) => `${a.name}:${a.strategy}`)])).toEqual([
      ['prod', ['loop-api:blue-green', 'loop-auth:recreate']],
      ['staging', ['loop-api:blue-green']],
    ]);
    const prodApi = blueGreenConfig(root, 'prod', 'loop-api');
    expect(prodApi.nas.host).toBe('nas.local');
    expect(prodApi.nas.privateKeyPath).toBe(join(file, '..', 'id')); // relative to the file
    expect(prodApi.state.dir).toBe('/volume1/docker/loop-ops'); // the app's explicit stateDir
    expect(prodApi.nginx.upstreamFile).toBe('/volume1/docker/nginx/conf.d/loop-api-upstream.conf');
    expect(prodApi.app.checkoutDir).toBe('/volume1/docker/loop-api/src');
    expect(prodApi.app.watch).toEqual([]); // siblings are apps of their own here
    expect(prodApi.deploy.verifySeconds).toBe(20);
    const auth = findApp(root, 'prod', 'loop-auth');
    expect(auth.strategy).toBe('recreate');
    expect(auth.config.state.dir).toBe('/volume1/docker/loop-ops/loop-auth'); // default: <state.dir>/<app>
    expect(auth.config.app).toMatchObject({ name: 'loop-auth', containerPort: 8080, hostPort: 18090, healthPath: '/health', volumes: [] });
    const staging = blueGreenConfig(root, 'staging');
    expect(staging.nas.host).toBe('10.0.0.9');
    expect(staging.docker.binary).toBe('/usr/local/bin/docker');
    expect(staging.app.frontPort).toBe(9082);
    expect(staging.deploy.verifySeconds).toBe(3); // the app's own override…
    expect(staging.deploy.healthAttempts).toBe(30); // …over the global section and its defaults
    expect(staging.state.dir).toBe('/volume1/docker/loop-ops/loop-api');
    // Each target's sudo password: its own variable first, else the shared one; nopasswd needs none.
    expect(secrets.sudoPasswordByTarget).toEqual({ prod: 'prod-pw' });
    expect(JSON.stringify(root)).not.toContain('prod-pw');
    // Defaults: the first target, its first app.
    expect(findApp(root).name).toBe('loop-api');
    expect(findApp(root, 'prod').target).toBe('prod');
    expect(() => findApp(root, 'qa')).toThrow(/no target "qa" \(configured: prod, staging\)/);
    expect(() => findApp(root, 'staging', 'loop-auth')).toThrow(/no app "loop-auth" on target staging/);
    expect(allApps(root)).toHaveLength(3);
  });

  it('the single-NAS file is one target named default with its one blue-green app, parsed as before', () => {
    const file = write(`nas: { host: nas.local, username: admin, privateKeyPath: /k, hostKeyFingerprint: "${FP}" }\nsudo: { mode: none }\n`);
    const { config: root } = loadConfig({ file, env: {} });
    expect(root.singleNas).toBe(true);
    expect(root.targets).toHaveLength(1);
    expect(root.targets[0]!.name).toBe('default');
    const c = blueGreenConfig(root);
    expect(c.state.dir).toBe('/volume1/docker/loop-ops');
    expect(c.app.watch).toEqual(['loop-auth']);
  });

  it('names the key the user wrote in every problem', () => {
    const file = write(`
nas: { host: x, username: admin }
targets:
  Prod:
    nas: { host: nas.local, username: admin, privateKeyPath: /k }
    sudo: { mode: none }
    colour: blue
    apps:
      loop-api: { frontPort: 70000, upstreamFile: relative.conf }
      loop-auth: { strategy: recreate, containerPort: 8080 }
      worker: { strategy: cron }
  staging:
    nas: { host: s, username: admin, privateKeyPath: /k, hostKeyFingerprint: "${FP}" }
    sudo: { mode: none }
    apps:
      loop-api: { colorPorts: { blue: 9001, green: 9002 } }
      loop-api-blue: { strategy: recreate, checkoutDir: /s, containerPort: 1, hostPort: 9001 }
`);
    const text = problemsOf(() => loadConfig({ file, env: {} })).join('\n');
    expect(text).toContain('nas: "nas" belongs inside a target when "targets" is used');
    expect(text).toContain('targets.Prod: a target name is lower-case');
    expect(text).toContain('targets.Prod.colour: unknown key');
    expect(text).toContain('targets.Prod.nas.hostKeyFingerprint: a host key must be pinned');
    expect(text).toContain('targets.Prod.apps.loop-api.frontPort');
    expect(text).toContain('targets.Prod.apps.loop-api.upstreamFile: must be an absolute path');
    expect(text).toContain('targets.Prod.apps.loop-auth.checkoutDir');
    expect(text).toContain('targets.Prod.apps.worker.strategy: must be one of: blue-green, recreate');
    // Two apps of one target cannot share a container name or a host port.
    expect(text).toContain('targets.staging.apps.loop-api-blue: container name loop-api-blue is already used by targets.staging.apps.loop-api');
    expect(text).toContain('targets.staging.apps.loop-api-blue.hostPort: host port 9001 is already used by targets.staging.apps.loop-api.colorPorts.blue');
    for (const p of text.split('\n')) expect(p).not.toMatch(/^(app|nginx|state)\./); // never the internal view's keys
  });

  it('one root-command list per target covers all its apps, each command once', () => {
    const { config: root } = loadConfig({ file: write(twoTargets), env: { LOOP_OPS_SUDO_PASSWORD: 'x' } });
    const prod = root.targets[0]!;
    const rules = targetRootRules(prod.apps);
    const ids = rules.map((r) => r.id);
    expect(ids.filter((i) => i === 'docker-api')).toHaveLength(1);
    expect(ids).toContain('docker-build');
    expect(ids).toContain('loop-api/nginx-reload');
    expect(ids.some((i) => i.startsWith('loop-auth/'))).toBe(false); // a recreate app needs only Docker
    expect(new Set(rules.map((r) => [r.program, ...r.args].join(' '))).size).toBe(rules.length);
  });
});

import { describe, expect, it } from 'vitest';
import { parseTargets } from '../../../src/config/targets.js';

const nas = { host: '10.0.0.20', username: 'ops', privateKeyPath: '/k', hostKeyFingerprint: 'SHA256:jX8TLzlc0geBRG3Kn2jMH5mcYybruiet2CepuTubF6o' };

describe('a swarm target in the config', () => {
  it('parses driver swarm with a swarm-service app: defaults, the state dir per app', () => {
    const r = parseTargets({
      targets: {
        cluster: { driver: 'swarm', nas, state: { dir: '/srv/loop-ops' }, apps: { 'loop-api': { strategy: 'swarm-service', checkoutDir: '/srv/loop-api/src' } } },
      },
    });
    expect(r.issues).toEqual([]);
    const t = r.root!.targets[0]!;
    expect(t.driver).toBe('swarm');
    const a = t.apps[0]!;
    expect(a.strategy).toBe('swarm-service');
    if (a.strategy !== 'swarm-service') return;
    expect(a.config.app).toMatchObject({ name: 'loop-api', checkoutDir: '/srv/loop-api/src', replicas: 2, updateMonitorSeconds: 5, logsTimeoutSeconds: 8 });
    expect(a.config.state.dir).toBe('/srv/loop-ops/loop-api');
  });

  it('refuses a strategy its driver does not run, naming the key', () => {
    const r = parseTargets({
      targets: {
        cluster: { driver: 'swarm', nas, apps: { 'loop-api': { strategy: 'blue-green' } } },
        prod: { nas, apps: { 'loop-api': { strategy: 'swarm-service', checkoutDir: '/c' } } },
      },
    });
    expect(r.issues).toEqual([
      { path: 'targets.cluster.apps.loop-api.strategy', message: 'a swarm target runs swarm-service apps' },
      { path: 'targets.prod.apps.loop-api.strategy', message: 'a single-host target runs blue-green or recreate apps' },
    ]);
  });

  it('bounds logsTimeoutSeconds: a log read must never wait for minutes', () => {
    const issues = (logsTimeoutSeconds: number) =>
      parseTargets({ targets: { cluster: { driver: 'swarm', nas, apps: { 'loop-api': { strategy: 'swarm-service', checkoutDir: '/c', logsTimeoutSeconds } } } } }).issues.map((i) => i.path);
    expect(issues(2.5)).toEqual([]);
    expect(issues(0)).toEqual(['targets.cluster.apps.loop-api.logsTimeoutSeconds']);
    expect(issues(120)).toEqual(['targets.cluster.apps.loop-api.logsTimeoutSeconds']);
  });

  it('names a bad swarm app key with the path the user wrote', () => {
    const r = parseTargets({
      targets: { cluster: { driver: 'swarm', nas, apps: { 'loop-api': { strategy: 'swarm-service', checkoutDir: 'relative', colorPorts: {} } } } },
    });
    expect(r.issues.map((i) => i.path).sort()).toEqual(['targets.cluster.apps.loop-api', 'targets.cluster.apps.loop-api.checkoutDir']);
  });
});

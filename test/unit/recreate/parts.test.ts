/** The recreate strategy's pure parts: names traded by id, the container spec, the recover rows. */
import { describe, expect, it } from 'vitest';
import { recreateConfigSchema } from '../../../src/config.js';
import { RECREATE_RECOVER_TABLE, recreateCompensation } from '../../../src/bluegreen/recover-table.js';
import { containerCreateBody } from '../../../src/docker/requests.js';
import { planRenames } from '../../../src/recreate/arrange.js';
import { appSpec, runtimeEnv } from '../../../src/recreate/spec.js';

describe('planRenames', () => {
  const app = 'loop-auth';
  it('a swap goes through <app>-outgoing', () => {
    const p = planRenames(app, [{ id: 'A', name: 'loop-auth' }, { id: 'B', name: 'loop-auth-previous' }], { live: 'B', previous: 'A' });
    expect(p).toEqual({
      ok: true,
      renames: [
        { id: 'A', from: 'loop-auth', to: 'loop-auth-outgoing' },
        { id: 'B', from: 'loop-auth-previous', to: 'loop-auth' },
        { id: 'A', from: 'loop-auth-outgoing', to: 'loop-auth-previous' },
      ],
    });
  });

  it('nothing to do when the names are right; resumes a swap cut off half-way', () => {
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth' }, { id: 'B', name: 'loop-auth-previous' }], { live: 'A', previous: 'B' })).toEqual({ ok: true, renames: [] });
    // Cut after the first rename: A is aside, B still previous.
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth-outgoing' }, { id: 'B', name: 'loop-auth-previous' }], { live: 'B', previous: 'A' })).toEqual({
      ok: true,
      renames: [
        { id: 'B', from: 'loop-auth-previous', to: 'loop-auth' },
        { id: 'A', from: 'loop-auth-outgoing', to: 'loop-auth-previous' },
      ],
    });
    // Undo of the same: A back as the app, B back as previous.
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth-outgoing' }, { id: 'B', name: 'loop-auth-previous' }], { live: 'A', previous: 'B' })).toEqual({
      ok: true,
      renames: [{ id: 'A', from: 'loop-auth-outgoing', to: 'loop-auth' }],
    });
  });

  it('without a wanted previous, that name is left as it is', () => {
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth-previous' }, { id: 'Z', name: 'loop-auth-older' }], { live: 'A' })).toEqual({
      ok: true,
      renames: [{ id: 'A', from: 'loop-auth-previous', to: 'loop-auth' }],
    });
  });

  it('refuses a foreign holder, a missing container, one container in both roles', () => {
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth-previous' }, { id: 'X', name: 'loop-auth' }], { live: 'A' })).toMatchObject({ ok: false, error: expect.stringMatching(/loop-auth is held by another container \(X\)/) });
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth' }], { live: 'B' })).toMatchObject({ ok: false, error: expect.stringMatching(/B does not exist/) });
    expect(planRenames(app, [{ id: 'A', name: 'loop-auth' }], { live: 'A', previous: 'A' })).toMatchObject({ ok: false });
    expect(
      planRenames(app, [{ id: 'A', name: 'loop-auth' }, { id: 'B', name: 'loop-auth-previous' }, { id: 'S', name: 'loop-auth-outgoing' }], { live: 'B', previous: 'A' }),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/loop-auth-outgoing is held/) });
  });
});

describe('the container spec', () => {
  const base = {
    nas: { host: 'nas.local', username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    app: { name: 'loop-auth', checkoutDir: '/volume1/docker/loop-auth/src', containerPort: 8080 },
  };

  it('carries over only what the container was given, not what its image defines', () => {
    expect(runtimeEnv({ PATH: '/bin', BUILD_MODE: '', JWKS_SECRET_FILE: '/run/s', TZ: 'UTC' }, { PATH: '/bin', BUILD_MODE: '', TZ: 'Europe/Paris' })).toEqual({ JWKS_SECRET_FILE: '/run/s', TZ: 'UTC' });
  });

  it('network, 127.0.0.1:<hostPort>:<containerPort>, the configured volumes, unless-stopped, our labels: the Engine body', () => {
    const svc = { config: recreateConfigSchema.parse({ ...base, app: { ...base.app, hostPort: 18090, volumes: [{ host: '/volume1/docker/loop-auth/keys', container: '/keys', readOnly: true }] } }) };
    const spec = appSpec(svc, { image: 'loop-auth:20261206063000-4f2a9c1', env: { A: '1' }, labels: { 'loop-ops.version': '1.2.0' } });
    expect(containerCreateBody(spec)).toEqual({
      Image: 'loop-auth:20261206063000-4f2a9c1',
      Labels: { 'loop-ops.version': '1.2.0', 'loop-ops.app': 'loop-auth' },
      Env: ['A=1'],
      ExposedPorts: { '8080/tcp': {} },
      Healthcheck: undefined,
      HostConfig: {
        Binds: ['/volume1/docker/loop-auth/keys:/keys:ro'],
        NetworkMode: 'loop_default',
        RestartPolicy: { Name: 'unless-stopped' },
        PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18090' }] },
      },
      NetworkingConfig: { EndpointsConfig: { loop_default: { Aliases: [] } } },
    });
  });

  it('without hostPort nothing is published; without configured volumes the live container keeps its own', () => {
    const svc = { config: recreateConfigSchema.parse(base) };
    const spec = appSpec(svc, { image: 'loop-auth:x', env: {}, labels: {}, baseBinds: [{ host: '/data', container: '/data' }] });
    expect(spec.publish).toBeUndefined();
    expect(spec.binds).toEqual([{ host: '/data', container: '/data' }]);
  });
});

describe('the recreate rows of the recover table', () => {
  it('undoes before the swap, keeps a healthy new container after it, completes after the gate', () => {
    expect(recreateCompensation('deploy', 'build')).toEqual([]);
    expect(recreateCompensation('deploy', 'replace')).toEqual(['put_back']);
    expect(recreateCompensation('deploy', 'create')).toEqual(['put_back']);
    expect(recreateCompensation('deploy', 'swap')).toEqual(['keep_if_healthy']);
    expect(recreateCompensation('deploy', 'health')).toEqual(['keep_if_healthy']);
    expect(recreateCompensation('deploy', 'restore')).toEqual(['put_back']);
    expect(recreateCompensation('deploy', 'prune')).toEqual(['complete']);
    expect(recreateCompensation('restart', 'restart')).toEqual(['keep_if_healthy']);
    expect(recreateCompensation('restart', 'cleanup')).toEqual(['complete']);
    expect(recreateCompensation('stop', 'stop')).toEqual([]);
  });

  it('an unknown kind or phase (a newer version\'s journal) checks everything', () => {
    expect(recreateCompensation('deploy', 'teleport')).toEqual(['keep_if_healthy']);
    expect(recreateCompensation('reset_oauth', 'backup')).toEqual(['keep_if_healthy']);
  });

  it('every phase the recreate operations journal has a row in every kind that journals it', () => {
    const replacePhases = ['locked', 'replace', 'create', 'swap', 'health', 'restore'];
    for (const kind of ['deploy', 'rollback', 'restart'] as const) for (const p of replacePhases) expect(RECREATE_RECOVER_TABLE[kind][p], `${kind}/${p}`).toBeDefined();
    for (const p of ['fetch', 'pull', 'build', 'prune']) expect(RECREATE_RECOVER_TABLE.deploy[p], `deploy/${p}`).toBeDefined();
  });
});

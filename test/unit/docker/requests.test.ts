import { describe, expect, it } from 'vitest';
import { toContainerInfo } from '../../../src/docker/engine.js';
import { buildImageArgv, containerCreateBody, demuxLogs, paths } from '../../../src/docker/requests.js';

describe('Engine API paths', () => {
  it('filters by label and exact name', () => {
    const p = paths.list({ all: true, labels: ['loop-ops.app=loop-api'], names: ['loop-auth'] });
    const url = new URL(`http://x${p}`);
    expect(url.pathname).toBe('/v1.41/containers/json');
    expect(url.searchParams.get('all')).toBe('1');
    expect(JSON.parse(url.searchParams.get('filters')!)).toEqual({ label: ['loop-ops.app=loop-api'], name: ['^/loop-auth$'] });
  });

  it('builds lifecycle and logs paths', () => {
    expect(paths.stop('loop-api-blue', 10)).toBe('/v1.41/containers/loop-api-blue/stop?t=10');
    expect(paths.remove('loop-api-green', true)).toBe('/v1.41/containers/loop-api-green?force=1&v=0');
    expect(paths.logs('loop-api-blue', { stdout: true, stderr: false, tail: 200, since: 1700000000, timestamps: true })).toBe(
      '/v1.41/containers/loop-api-blue/logs?stdout=1&stderr=0&tail=200&since=1700000000&timestamps=1',
    );
  });

  it.each(['../../etc', 'a/b', 'x?y=1', '', 'a b', '-rf', 'a\nb'])('refuses container name %j', (bad) => {
    expect(() => paths.inspect(bad)).toThrow(/invalid container name/);
  });
});

describe('containerCreateBody', () => {
  const spec = {
    name: 'loop-api-green',
    image: 'loop-api:20261121-1010-abc1234',
    labels: { 'loop-ops.app': 'loop-api', 'loop-ops.color': 'green' },
    env: { COLOR: 'green', TZ: 'UTC' },
    binds: [{ host: '/volume1/docker/loop-api/vault', container: '/vault' }],
    network: 'loop_default',
    aliases: ['loop-api-green'],
    publish: { hostIp: '127.0.0.1', hostPort: 18082, containerPort: 8081 },
    restartPolicy: 'unless-stopped' as const,
  };
  it('maps the spec to the Engine API body', () => {
    expect(containerCreateBody(spec)).toEqual({
      Image: spec.image,
      Labels: spec.labels,
      Env: ['COLOR=green', 'TZ=UTC'],
      ExposedPorts: { '8081/tcp': {} },
      Healthcheck: undefined,
      HostConfig: {
        Binds: ['/volume1/docker/loop-api/vault:/vault'],
        NetworkMode: 'loop_default',
        RestartPolicy: { Name: 'unless-stopped' },
        PortBindings: { '8081/tcp': [{ HostIp: '127.0.0.1', HostPort: '18082' }] },
      },
      NetworkingConfig: { EndpointsConfig: { loop_default: { Aliases: ['loop-api-green'] } } },
    });
  });
  it('refuses bad env names, binds and images', () => {
    expect(() => containerCreateBody({ ...spec, env: { 'A=B': 'x' } })).toThrow(/environment variable/);
    expect(() => containerCreateBody({ ...spec, binds: [{ host: 'rel/path', container: '/v' }] })).toThrow(/volume/);
    expect(() => containerCreateBody({ ...spec, binds: [{ host: '/a:/b', container: '/v' }] })).toThrow(/volume/);
    expect(() => containerCreateBody({ ...spec, image: 'Bad Image' })).toThrow(/image/);
  });
});

describe('buildImageArgv', () => {
  it('ends options with -- before the context, so a path cannot become a flag', () => {
    expect(
      buildImageArgv('/usr/bin/docker', {
        contextDir: '/volume1/docker/loop-api/src',
        tag: 'loop-api:v1',
        labels: { 'loop-ops.commit': 'abc' },
        buildArgs: { MODE: 'ok' },
      }),
    ).toEqual([
      '/usr/bin/docker', 'build', '--tag', 'loop-api:v1', '--label', 'loop-ops.commit=abc', '--build-arg', 'MODE=ok', '--', '/volume1/docker/loop-api/src',
    ]);
    expect(() => buildImageArgv('/d', { contextDir: '/c', tag: 'x', buildArgs: { 'A B': '1' } })).toThrow();
  });
});

describe('demuxLogs', () => {
  const frame = (type: number, text: string) => {
    const body = Buffer.from(text);
    const h = Buffer.alloc(8);
    h[0] = type;
    h.writeUInt32BE(body.length, 4);
    return Buffer.concat([h, body]);
  };
  it('splits multiplexed frames by stream', () => {
    const buf = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err ✓\n'), frame(1, 'out two\n')]);
    expect(demuxLogs(buf)).toEqual([
      { stream: 'stdout', text: 'out one\n' },
      { stream: 'stderr', text: 'err ✓\n' },
      { stream: 'stdout', text: 'out two\n' },
    ]);
  });
  it('treats a TTY stream as stdout and tolerates a cut last frame', () => {
    expect(demuxLogs(Buffer.from('plain tty text\n'))).toEqual([{ stream: 'stdout', text: 'plain tty text\n' }]);
    const cut = frame(2, 'abcdef').subarray(0, 11);
    expect(demuxLogs(cut)).toEqual([{ stream: 'stderr', text: 'abc' }]);
    expect(demuxLogs(Buffer.alloc(0))).toEqual([]);
  });
});

describe('toContainerInfo', () => {
  it('summarises an inspect answer', () => {
    const info = toContainerInfo({
      Id: '0123456789abcdef',
      Name: '/loop-api-blue',
      Image: 'sha256:aa',
      RestartCount: 2,
      Config: { Image: 'loop-api:v1', Labels: { 'loop-ops.color': 'blue' } },
      State: { Status: 'running', StartedAt: '2026-11-21T10:00:00Z', FinishedAt: '0001-01-01T00:00:00Z', ExitCode: 0, Health: { Status: 'healthy', Log: [{ Output: ' ok \n' }] } },
      NetworkSettings: { Ports: { '8081/tcp': [{ HostIp: '127.0.0.1', HostPort: '18081' }] }, Networks: { loop_default: {} } },
    });
    expect(info).toEqual({
      id: '0123456789ab',
      name: 'loop-api-blue',
      image: 'loop-api:v1',
      imageId: 'sha256:aa',
      labels: { 'loop-ops.color': 'blue' },
      state: 'running',
      health: 'healthy',
      startedAt: '2026-11-21T10:00:00Z',
      finishedAt: undefined,
      exitCode: undefined,
      restartCount: 2,
      ports: ['127.0.0.1:18081->8081/tcp'],
      networks: ['loop_default'],
      lastHealthOutput: 'ok',
    });
  });
});

describe('image removal', () => {
  it('removes one tag, never forced (the Engine refuses an image a container uses)', () => {
    expect(paths.imageRemove('loop-api:20261201100001-abc1234')).toBe('/v1.41/images/loop-api%3A20261201100001-abc1234?force=0&noprune=0');
  });
  it.each(['loop-api:x;rm -rf /', '../x', '-f', 'loop-api:tag?force=1'])('refuses image reference %j', (bad) => {
    expect(() => paths.imageRemove(bad)).toThrow(/invalid image reference/);
  });
});

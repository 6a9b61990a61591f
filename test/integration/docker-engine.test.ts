/**
 * The Docker layer against the sandbox NAS: Engine API over a pooled
 * `sudo docker system dial-stdio` channel, and builds run on the NAS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerEngine } from '../../src/docker/index.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { sandboxConfig, sandboxDocker, sandboxPool, waitFor } from '../helpers/nas.js';

const sandbox = getSandbox();
const TEST_CONTAINER = 'loop-ops-test-engine';

describe.skipIf(!sandbox)(`Docker engine on the sandbox NAS${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let pool: SshPool;
  let docker: DockerEngine;
  beforeAll(() => {
    pool = sandboxPool();
    docker = sandboxDocker(pool);
  });
  afterAll(async () => {
    await docker?.remove(TEST_CONTAINER, { force: true }).catch(() => {});
    docker?.close();
    await pool?.close();
  });

  it('pings the engine', async () => {
    expect(await docker.ping()).toBe(true);
  });

  it('lists the app containers by label, with health, image and version label', async () => {
    const list = await docker.listContainers({ labels: ['loop-ops.app=loop-api'] });
    const blue = list.find((c) => c.name === 'loop-api-blue');
    expect(blue).toBeDefined();
    expect(blue!.labels['loop-ops.color']).toBe('blue');
    expect(blue!.labels['loop-ops.version']).toMatch(/\d+\.\d+\.\d+/);
    expect(blue!.state).toBe('running');
    expect(['healthy', 'starting']).toContain(blue!.health);
    expect(blue!.ports).toContain(`127.0.0.1:${sandboxConfig().config.app.colorPorts.blue}->8081/tcp`);
    const byName = await docker.listContainers({ names: ['loop-auth'] });
    expect(byName.map((c) => c.name)).toEqual(['loop-auth']);
  });

  it('answers undefined for a container that does not exist', async () => {
    expect(await docker.inspect('no-such-container-xyz')).toBeUndefined();
  });

  it('reads logs of both streams with a tail bound', async () => {
    const lines = await docker.logs('loop-api-blue', { stdout: true, stderr: true, tail: 50, timestamps: true });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(50);
    expect(new Set(lines.map((l) => l.stream))).toEqual(new Set(['stdout', 'stderr']));
    expect(lines[0]!.text).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('creates, starts, restarts, stops and removes a container from a spec', async () => {
    const { config } = sandboxConfig();
    const image = (await docker.inspect('loop-api-blue'))!.image;
    await docker.remove(TEST_CONTAINER, { force: true });
    await docker.create({
      name: TEST_CONTAINER,
      image,
      labels: { 'loop-ops.test': '1' },
      env: { COLOR: 'test' },
      binds: [],
      network: config.app.network,
      restartPolicy: 'no',
    });
    await docker.start(TEST_CONTAINER);
    let info = await docker.inspect(TEST_CONTAINER);
    expect(info!.state).toBe('running');
    expect(info!.networks).toEqual([config.app.network]);
    await docker.restart(TEST_CONTAINER, 1);
    info = await docker.inspect(TEST_CONTAINER);
    expect(info!.state).toBe('running');
    await docker.stop(TEST_CONTAINER, 1);
    expect((await docker.inspect(TEST_CONTAINER))!.state).toBe('exited');
    await docker.start(TEST_CONTAINER); // idempotent start/stop: 304 is fine
    await docker.start(TEST_CONTAINER);
    await docker.remove(TEST_CONTAINER, { force: true });
    expect(await docker.inspect(TEST_CONTAINER)).toBeUndefined();
  });

  it('builds an image on the NAS from the app checkout, streaming its output', async () => {
    const { config } = sandboxConfig();
    const lines: string[] = [];
    const tag = 'loop-api:test-build';
    await docker.build({ contextDir: config.app.checkoutDir, tag, labels: { 'loop-ops.test': '1' } }, (l) => lines.push(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(await docker.imageExists(tag)).toBe(true);
    const images = await docker.listImages('loop-api');
    expect(images.some((i) => i.tags.includes(tag))).toBe(true);
  });

  it('serves 50 concurrent reads over the pooled channels', async () => {
    const all = await Promise.all(Array.from({ length: 50 }, () => docker.inspect('loop-api-blue')));
    expect(all.every((c) => c?.name === 'loop-api-blue')).toBe(true);
  });

  it('survives the dial-stdio channel dying between requests', async () => {
    await docker.ping();
    pool.resetConnections(); // every kept-alive channel is gone now
    const c = await waitFor(() => docker.inspect('loop-api-blue'), (v) => v !== undefined, 5000);
    expect(c!.name).toBe('loop-api-blue');
  });
});

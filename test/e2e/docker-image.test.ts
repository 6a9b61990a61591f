/**
 * The Docker image, built and run with the sandbox's Docker. No image can be
 * pulled here, so the base image (build arg NODE_IMAGE) is assembled locally:
 * a rootfs with this machine's own /usr/bin/node and the libraries it links,
 * imported as loop-ops-test/node-base:20. The server in the container cannot
 * reach the sandbox NAS (its sshd listens on the host's 127.0.0.1), so this
 * checks what does not need it: the server starts as a non-root user,
 * /healthz answers, Docker's HEALTHCHECK turns healthy, MCP over Streamable
 * HTTP with a bearer token lists the tools, and the CLI inside the image
 * fails cleanly when the NAS is unreachable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
const ROOT = resolve(import.meta.dirname, '../..');
const BASE = 'loop-ops-test/node-base:20';
const IMAGE = 'loop-ops-mcp:test';
const TOKEN = `img-token-${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
const NAME = `loop-ops-mcp-test-${process.pid}`;

const docker = () => sandbox?.dockerBinary ?? '/usr/bin/docker';
function dk(args: string[], timeout = 120_000): string {
  return execFileSync(docker(), args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

async function waitFor<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    if (dk(['inspect', '-f', '{{.State.Running}}', NAME]) !== 'true') {
      const logs = spawnSync(docker(), ['logs', '--tail', '20', NAME], { encoding: 'utf8' });
      throw new Error(`container ${NAME} is not running:\n${logs.stdout}${logs.stderr}`);
    }
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A minimal Node 20 base image from the host's own node binary (no registry needed). */
function importNodeBase(work: string): void {
  const rootfs = join(work, 'rootfs');
  const copy = (src: string) => {
    const dst = join(rootfs, src);
    mkdirSync(dirname(dst), { recursive: true });
    copyFileSync(src, dst); // follows symlinks: the real library under the link's name
  };
  for (const bin of ['/usr/bin/node', '/usr/bin/env']) {
    copy(bin);
    chmodSync(join(rootfs, bin), 0o755);
    const libs = execFileSync('ldd', [bin], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    for (const lib of libs) if (!existsSync(join(rootfs, lib))) copy(lib);
  }
  mkdirSync(join(rootfs, 'tmp'), { recursive: true });
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
  mkdirSync(join(rootfs, 'home/node'), { recursive: true });
  chownSync(join(rootfs, 'home/node'), 1000, 1000);
  const r = spawnSync('bash', ['-c', `tar -C "$1" -c . | "$2" import -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$3"`, 'import', rootfs, docker(), BASE], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`docker import failed: ${r.stderr}`);
}

describe.skipIf(!sandbox)(`Docker image${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let work: string;
  let port: number;
  let url: string;
  let buildSeconds = 0;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'loop-ops-image-'));
    chmodSync(work, 0o755); // the container's uid 1000 must reach the mounted config below it
    importNodeBase(work);
    execFileSync('bash', [join(ROOT, 'scripts/docker-context.sh')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
    const t0 = performance.now();
    dk(['build', '--build-arg', `NODE_IMAGE=${BASE}`, '-t', IMAGE, ROOT], 600_000);
    buildSeconds = (performance.now() - t0) / 1000;

    // What the NAS would mount: config, SSH key and token, readable by uid 1000 only.
    const conf = join(work, 'config');
    mkdirSync(conf, { mode: 0o755 });
    chmodSync(conf, 0o755);
    const facts = sandbox!;
    copyFileSync(facts.ssh.privateKeyPath, join(conf, 'id_ed25519'));
    writeFileSync(
      join(conf, 'config.yaml'),
      [
        'nas:',
        '  host: host.docker.internal', // the sandbox sshd listens on the host's loopback only: unreachable
        `  port: ${facts.ssh.port}`,
        `  username: ${facts.ssh.username}`,
        '  privateKeyPath: /config/ssh/id_ed25519',
        `  hostKeyFingerprint: "${facts.ssh.hostKeyFingerprint}"`,
        'sudo:',
        '  mode: none',
        '',
      ].join('\n'),
    );
    writeFileSync(join(conf, 'token'), `${TOKEN}\n`);
    for (const f of ['id_ed25519', 'config.yaml', 'token']) {
      chownSync(join(conf, f), 1000, 1000);
      chmodSync(join(conf, f), 0o600);
    }
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // As deploy/compose.example.yaml runs it: loopback-only port, read-only root
    // filesystem, no capabilities, the token as a secret file, the NAS as host.docker.internal.
    dk([
      'run', '-d', '--name', NAME,
      '--network', facts.app.network,
      '-p', `127.0.0.1:${port}:8765`,
      '--add-host', 'host.docker.internal:host-gateway',
      '--read-only', '--tmpfs', '/tmp',
      '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges:true',
      '--health-interval', '1s', '--health-start-period', '2s',
      '-v', `${join(conf, 'config.yaml')}:/config/config.yaml:ro`,
      '-v', `${join(conf, 'id_ed25519')}:/config/ssh/id_ed25519:ro`,
      '-v', `${join(conf, 'token')}:/run/secrets/loop_ops_token:ro`,
      '-e', 'LOOP_OPS_TOKEN_FILE=/run/secrets/loop_ops_token',
      IMAGE,
    ]);
  }, 900_000);

  afterAll(() => {
    spawnSync(docker(), ['rm', '-f', NAME], { stdio: 'ignore' });
    spawnSync(docker(), ['rmi', '-f', IMAGE, BASE], { stdio: 'ignore' });
    spawnSync(docker(), ['image', 'prune', '-f', '--filter', 'label=org.opencontainers.image.title=loop-ops-mcp'], { stdio: 'ignore' });
    if (work) rmSync(work, { recursive: true, force: true });
    rmSync(join(ROOT, '.docker-context'), { recursive: true, force: true });
  }, 120_000);

  it('is small, runs as non-root, has a HEALTHCHECK', () => {
    const size = Number(dk(['image', 'inspect', '-f', '{{.Size}}', IMAGE]));
    const baseSize = Number(dk(['image', 'inspect', '-f', '{{.Size}}', BASE]));
    console.log(`image ${IMAGE}: ${(size / 1e6).toFixed(1)} MB (app layers ${((size - baseSize) / 1e6).toFixed(1)} MB on a ${(baseSize / 1e6).toFixed(1)} MB base), built in ${buildSeconds.toFixed(1)} s`);
    expect(size - baseSize).toBeLessThan(40e6);
    const cfg = JSON.parse(dk(['image', 'inspect', '-f', '{{json .Config}}', IMAGE]));
    expect(cfg.User).toBe('1000:1000');
    expect(cfg.Healthcheck.Test.join(' ')).toMatch(/\/healthz/);
    expect(cfg.Entrypoint).toEqual(['node', '/app/dist/cli.js']);
    expect(cfg.Cmd).toEqual(['serve']);
  });

  it('/healthz answers 200 and Docker reports the container healthy', async () => {
    const body = await waitFor(
      async () => {
        const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3_000) });
        return r.status === 200 ? ((await r.json()) as { ok: boolean; nasReachable: boolean }) : undefined;
      },
      60_000,
      '/healthz',
    );
    expect(body.ok).toBe(true);
    expect(typeof body.nasReachable).toBe('boolean');
    await waitFor(async () => (dk(['inspect', '-f', '{{.State.Health.Status}}', NAME]) === 'healthy' ? true : undefined), 60_000, 'healthy');
    expect(dk(['exec', NAME, 'node', '-e', 'process.stdout.write(String(process.getuid()))'])).toBe('1000');
  }, 130_000);

  it('MCP over Streamable HTTP: 401 without the token, tools listed with it', async () => {
    const anon = await fetch(`${url}/mcp`, { signal: AbortSignal.timeout(10_000), method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anon.status).toBe(401);
    const client = new Client({ name: 'image-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['status', 'logs', 'health', 'deploy_blue_green', 'rollback']));
    } finally {
      await client.close();
    }
    const logs = spawnSync(docker(), ['logs', NAME], { encoding: 'utf8' });
    expect(logs.stdout + logs.stderr).not.toContain(TOKEN);
  }, 60_000);

  it('the human CLI runs inside the image and fails cleanly without the NAS', () => {
    expect(dk(['exec', NAME, 'loop-ops-mcp', '--version'])).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const r = spawnSync(docker(), ['exec', NAME, 'loop-ops-mcp', 'status'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unreachable|ECONNREFUSED|connect/i);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  }, 60_000);
});

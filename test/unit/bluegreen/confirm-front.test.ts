/**
 * The confirming probe of a rollback to the running color: probes through
 * the front (a fake pool whose direct-tcpip channel reaches a local HTTP
 * server) until the target answers twice in a row; a body naming the other
 * color refutes at once; failures in a row refute.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config.js';
import { bodyColor, confirmFront, CONFIRM_PROBES } from '../../../src/bluegreen/operations/shared.js';
import type { Services } from '../../../src/services.js';

let answers: Array<{ status: number; body: string }> = [];
let served = 0;
let server: Server;
let port = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    const a = answers[Math.min(served++, answers.length - 1)]!;
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function svc(): Services {
  const config = configSchema.parse({
    nas: { host: 'nas.local', username: 'admin', privateKeyPath: '/k', hostKeyFingerprint: `SHA256:${'A'.repeat(43)}` },
    sudo: { mode: 'none' },
  });
  // Every "NAS" connection (the front, whatever port is asked) reaches the local server.
  const pool = { forward: async () => connect(port, '127.0.0.1') };
  return { config, pool } as unknown as Services;
}

const run = async (a: typeof answers) => {
  answers = a;
  served = 0;
  const said: string[] = [];
  const r = await confirmFront(svc(), 'blue', (m) => said.push(m));
  return { ...r, served, said };
};

describe('confirmFront', () => {
  it('the target answering twice in a row confirms, after exactly that many probes', async () => {
    const r = await run([{ status: 200, body: '{"status":"ok","color":"blue"}' }]);
    expect(r).toMatchObject({ ok: true, probes: CONFIRM_PROBES });
    expect(r.served).toBe(CONFIRM_PROBES);
    expect(r.said.join('\n')).toMatch(/blue answers/);
  });

  it('a body without a color: 2xx twice confirms (the cut-over was seen; the new workers route only to the target)', async () => {
    expect(await run([{ status: 204, body: '' }])).toMatchObject({ ok: true });
    expect(await run([{ status: 200, body: 'OK' }])).toMatchObject({ ok: true });
  });

  it('the other color answering refutes at the first such probe', async () => {
    const r = await run([{ status: 200, body: '{"color":"green"}' }]);
    expect(r.ok).toBe(false);
    expect(r.probes).toBe(1);
    expect(r.last?.error).toMatch(/from green, not blue/);
  });

  it('failures in a row refute; one failure between successes does not', async () => {
    expect(await run([{ status: 502, body: 'bad gateway' }])).toMatchObject({ ok: false, probes: CONFIRM_PROBES });
    const r = await run([
      { status: 200, body: '{"color":"blue"}' },
      { status: 503, body: '' },
      { status: 200, body: '{"color":"blue"}' },
    ]);
    expect(r).toMatchObject({ ok: true, probes: 4 });
  });

  it('alternating answers never confirm: it gives up after a bounded number of probes', async () => {
    const flap = Array.from({ length: 20 }, (_, i) => (i % 2 ? { status: 500, body: '' } : { status: 200, body: '{"color":"blue"}' }));
    const r = await run(flap);
    expect(r.ok).toBe(false);
    expect(r.served).toBe(r.probes);
    expect(r.probes).toBeLessThanOrEqual(6);
  });
});

describe('bodyColor', () => {
  it('reads a color of ours from a JSON body, nothing else', () => {
    expect(bodyColor('{"status":"ok","version":"1.0.0","color":"green"}')).toBe('green');
    expect(bodyColor('{"color":"swarm"}')).toBeUndefined();
    expect(bodyColor('{"color":["blue"]}')).toBeUndefined();
    expect(bodyColor('blue')).toBeUndefined();
    expect(bodyColor('null')).toBeUndefined();
    expect(bodyColor('')).toBeUndefined();
  });
});

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { JobRegistry } from '../../../src/jobs.js';
import { probeUrl } from '../../../src/ssh/nas-http.js';

describe('bounded reads of NAS text', () => {
  it('a public health URL that streams without end: the probe keeps the first 2 KiB and answers', async () => {
    let written = 0;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = Buffer.alloc(64 * 1024, 'y');
      const pump = () => {
        while (written < 256 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
      };
      res.on('drain', pump);
      res.on('close', () => res.off('drain', pump));
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const p = await probeUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, 10_000);
      expect(p).toMatchObject({ ok: true, status: 200, error: undefined });
      expect(p.body).toBe('y'.repeat(2048));
      // The server was not drained to the end: reading stopped near the cap.
      expect(written).toBeLessThan(256 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('a job keeps each progress message bounded', async () => {
    const jobs = new JobRegistry();
    const j = jobs.start('deploy', async (h) => {
      h.progress(`build: ${'z'.repeat(1_000_000)}`);
      return {};
    });
    await jobs.wait(j.id, 5_000);
    const msg = jobs.get(j.id)!.progress[0]!;
    expect(msg.length).toBeLessThan(2_100);
    expect(msg).toMatch(/^build: z+ … \[\d+ characters cut\]$/);
  });
});

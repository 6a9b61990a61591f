/**
 * `logs` on a container with a huge log (~160 MB json-file, 1.2 M lines):
 * Docker reads only the tail on the NAS, and the answer stays within its
 * byte cap, newest lines kept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { JobRegistry } from '../../src/jobs.js';
import { GREP_SCAN_LINES, getLogs, type LogsRequest } from '../../src/ops/logs.js';
import type { Services } from '../../src/services.js';
import { ReadCoalescer } from '../../src/ops/coalesce.js';
import { adminPool, sandboxConfig, sandboxDocker, sandboxPool, waitFor } from '../helpers/nas.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';

const sandbox = getSandbox();
const NAME = 'loop-ops-test-biglog';
const LINES = 1_200_000;

describe.skipIf(!sandbox)(`logs on a ~160 MB container log${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let svc: Services;
  const req = (r: Partial<LogsRequest>): LogsRequest => ({ container: NAME, lines: 200, regex: false, stream: 'both', timestamps: false, maxBytes: 32_768, ...r });

  beforeAll(async () => {
    const { config } = sandboxConfig();
    config.app.watch = [...config.app.watch, NAME];
    const pool = sandboxPool();
    const docker = sandboxDocker(pool);
    svc = { target: 'default', config, pool, docker, log: createLogger({ level: 'silent', pretty: false }), jobs: new JobRegistry(), reads: new ReadCoalescer() };
    const d = config.docker.binary;
    // The fixture container is made as the full-sudo admin: `docker run` is not one of the product's root commands.
    const admin = adminPool([d]);
    await admin.run([d, 'rm', '-f', NAME], { sudo: true });
    const script = `seq 1 ${LINES} | sed "s/^/log line with some padding text to make it longer, number /"; sleep 1; echo FINAL-LINE-MARKER; sleep 3600`;
    // (Docker copies stdout and stderr concurrently: across streams, order in the log is not guaranteed.)
    await admin.run([d, 'run', '-d', '--name', NAME, sandbox!.app.baseImage, 'sh', '-c', script], { sudo: true });
    await admin.close();
    await waitFor(() => docker.logs(NAME, { stdout: true, stderr: false, tail: 1 }), (l) => l[0]?.text === 'FINAL-LINE-MARKER', 120_000, 1000);
  }, 180_000);

  afterAll(async () => {
    if (svc) {
      const admin = adminPool([svc.config.docker.binary]);
      await admin.run([svc.config.docker.binary, 'rm', '-f', NAME], { sudo: true }).catch(() => {});
      await admin.close();
    }
    svc?.docker.close();
    await svc?.pool.close();
  });

  it('returns the newest lines only', async () => {
    const r = await getLogs(svc, req({ lines: 200 }));
    expect(r.returnedLines).toBe(200);
    expect(r.lines[r.lines.length - 1]).toEqual({ stream: 'stdout', text: 'FINAL-LINE-MARKER' });
    expect(r.lines[r.lines.length - 2]!.text).toMatch(/number 1200000$/);
    expect(r.truncated).toBe(false);
  });

  it('keeps the answer under the byte cap, newest kept, and says how to narrow it', async () => {
    const r = await getLogs(svc, req({ lines: 5000, maxBytes: 32_768 }));
    const bytes = r.lines.reduce((n, l) => n + Buffer.byteLength(l.text) + 1, 0);
    expect(bytes).toBeLessThanOrEqual(32_768);
    expect(r.truncated).toBe(true);
    expect(r.lines[r.lines.length - 1]!.text).toBe('FINAL-LINE-MARKER');
    expect(r.note).toMatch(/were cut to stay under 32768 bytes; ask for fewer lines/);
  });

  it('greps within a bounded scan of the newest lines and says so', async () => {
    const hit = await getLogs(svc, req({ grep: 'number 1199990', lines: 10 }));
    expect(hit.lines.map((l) => l.text)).toEqual(['log line with some padding text to make it longer, number 1199990']);
    const old = await getLogs(svc, req({ grep: 'number 17 ', lines: 10 }));
    expect(old.returnedLines).toBe(0);
    expect(old.scannedLines).toBe(GREP_SCAN_LINES);
    expect(old.note).toMatch(/searched only the last 20000 lines/);
  });
});

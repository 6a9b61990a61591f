/**
 * Nothing a caller types can block the event loop: regexes that take a
 * backtracking engine hours, and a container that printed megabytes without
 * a newline, go through `logs` on the real server while a probe polls
 * /healthz every ~20 ms. Every probe must answer; each call ends with a
 * result or a clear error.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellQuote } from '../../src/ssh/quote.js';
import { CATASTROPHIC } from '../helpers/catastrophic.js';
import { adminPool, sandboxConfig, sandboxDocker, waitFor } from '../helpers/nas.js';
import type { SshPool } from '../../src/ssh/pool.js';
import { getSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { startSandboxServer, TEST_TOKEN } from '../helpers/server.js';

const sandbox = getSandbox();
const NAME = 'loop-ops-test-hostile';
/** 2 000 lines of 10 000 characters: 20 MB for a regex to go through. */
const HEAVY = 'loop-ops-test-hostile-heavy';
const BIG_LINE_BYTES = 3_000_000;
const textOf = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** Polls /healthz back to back (~20 ms apart) until stopped; a probe without an answer within 1 s counts as failed. */
function healthProbe(url: string) {
  let answered = 0;
  let failed = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1_000) });
        await res.arrayBuffer();
        if (res.ok) answered++;
        else failed++;
      } catch {
        failed++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { answered, failed };
    },
  };
}

describe.skipIf(!sandbox)(`hostile logs calls keep the server answering${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let server: Awaited<ReturnType<typeof startSandboxServer>>;
  let client: Client;
  const { config } = sandboxConfig();
  const d = config.docker.binary;
  // The fixture containers are made as the full-sudo admin: `docker run` is not one of the product's root commands.
  let pool: SshPool;

  beforeAll(async () => {
    pool = adminPool([d]);
    await pool.run([d, 'rm', '-f', NAME, HEAVY], { sudo: true });
    await pool.run(
      [d, 'run', '-d', '--name', HEAVY, sandbox!.app.baseImage, 'sh', '-c', `yes "$(head -c 10000 /dev/zero | tr '\\000' y)" | head -n 2000; echo HEAVY-DONE; sleep 3600`],
      { sudo: true },
    );
    // First megabytes without a newline, then each killer line, then a marker.
    const script = [
      `head -c ${BIG_LINE_BYTES} /dev/zero | tr '\\000' x`,
      'echo',
      `printf '%s\\n' ${CATASTROPHIC.map((c) => shellQuote(c.line)).join(' ')}`,
      'echo HOSTILE-DONE',
      'sleep 3600',
    ].join('; ');
    await pool.run([d, 'run', '-d', '--name', NAME, sandbox!.app.baseImage, 'sh', '-c', script], { sudo: true });
    const docker = sandboxDocker(pool);
    await waitFor(() => docker.logs(NAME, { stdout: true, stderr: false, tail: 1 }), (l) => l[0]?.text === 'HOSTILE-DONE', 60_000, 500);
    await waitFor(() => docker.logs(HEAVY, { stdout: true, stderr: false, tail: 1 }), (l) => l[0]?.text === 'HEAVY-DONE', 60_000, 500);
    docker.close();
    server = await startSandboxServer((c) => {
      c.app.watch = [...c.app.watch, NAME, HEAVY];
    });
    client = new Client({ name: 'hostile', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${TEST_TOKEN}` } } }));
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    await pool?.run([d, 'rm', '-f', NAME, HEAVY], { sudo: true }).catch(() => {});
    await pool?.close();
  });

  it('catastrophic regexes and a megabyte line: every call ends clearly, every /healthz probe answers', async () => {
    const probe = healthProbe(server.url);
    const outcomes: string[] = [];
    try {
      for (const c of CATASTROPHIC) {
        const r = (await client.callTool({
          name: 'logs',
          arguments: { container: NAME, grep: c.pattern, regex: true, lines: 50, timestamps: false },
        })) as CallToolResult;
        if (r.isError) {
          // Allowed: a clear refusal, never a hang or an internal error.
          expect(textOf(r), c.pattern).toMatch(/pattern too slow|regex too complex/);
          outcomes.push(`${c.pattern}: refused`);
          continue;
        }
        const lines = (r.structuredContent as { lines: Array<{ text: string }> }).lines.map((l) => l.text);
        expect(lines.includes(c.line), c.pattern).toBe(c.matches);
        outcomes.push(`${c.pattern}: ${lines.length} line(s)`);
      }
      // The newline-less output: read, cut to a bounded line, said so.
      const big = (await client.callTool({ name: 'logs', arguments: { container: NAME, lines: 200, timestamps: false } })) as CallToolResult;
      expect(big.isError ?? false).toBe(false);
      const bigLines = (big.structuredContent as { lines: Array<{ text: string }> }).lines.map((l) => l.text);
      expect(bigLines.at(-1)).toBe('HOSTILE-DONE');
      expect(bigLines.some((l) => /^x+ … \[\d+ bytes cut\]$/.test(l))).toBe(true);
      const grepped = (await client.callTool({ name: 'logs', arguments: { container: NAME, grep: 'x{20}$', regex: true, lines: 5, timestamps: false } })) as CallToolResult;
      expect(grepped.isError ?? false, textOf(grepped)).toBe(false);
    } finally {
      const { answered, failed } = await probe.stop();
      console.log(`healthz probes: ${answered} answered, ${failed} failed; ${outcomes.join('; ')}`);
      expect(failed).toBe(0);
      expect(answered).toBeGreaterThan(CATASTROPHIC.length);
    }
  }, 120_000);

  it('a regex over 2 000 lines of 10 000 characters: a clear answer (the result, or "pattern too slow" past the budget), /healthz answers all along', async () => {
    const probe = healthProbe(server.url);
    let text = '';
    try {
      const r = (await client.callTool({ name: 'logs', arguments: { container: HEAVY, grep: '.{250}#', regex: true, lines: 10, timestamps: false } })) as CallToolResult;
      text = textOf(r);
      // Past the grep budget the answer is "pattern too slow"; within it, the (empty) result.
      if (r.isError) expect(text).toMatch(/pattern too slow: grep gave up after 10 s at line \d+ of 20001/);
      else expect((r.structuredContent as { returnedLines: number }).returnedLines).toBe(0);
    } finally {
      const { answered, failed } = await probe.stop();
      console.log(`healthz probes during the costly grep: ${answered} answered, ${failed} failed; ${text.split('\n')[0]}`);
      expect(failed).toBe(0);
      expect(answered).toBeGreaterThan(0);
    }
  }, 60_000);
});

/**
 * The status snapshot against the sandbox NAS (real dockerd, real nginx), with
 * a snapshot lifetime far longer than the test (60 s): whatever makes a status
 * fresh here is an invalidation, never the expiry.
 *
 * - after an operation through this server (restart: containers change;
 *   rollback to the running color: only nginx's upstream file changes), the
 *   next status shows it, although a snapshot from before was being served;
 * - a color stopped (and started) with the NAS's own docker, outside the
 *   product: once Docker's event has reached the server, the next status
 *   shows it.
 *
 * Behaviour only: no assertion on a duration.
 */
import { execFileSync } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/nas.js';
import { getSandbox, resetSandbox, sandboxSkipReason } from '../helpers/sandbox.js';
import { call, connect, fastDeploy, textOf } from '../helpers/mcp.js';
import { startSandboxServer } from '../helpers/server.js';

const sandbox = getSandbox();

interface Status {
  liveColor: 'blue' | 'green' | null;
  colors: Record<'blue' | 'green', { name: string; state: string } | null>;
  lock: { held: boolean };
  recentDeployments: Array<{ kind: string; outcome: string }>;
  readAt: string;
  ageMs: number;
  fromSnapshot: boolean;
}

describe.skipIf(!sandbox)(`status snapshot${sandbox ? '' : ` (skipped: ${sandboxSkipReason()})`}`, () => {
  let server: Awaited<ReturnType<typeof startSandboxServer>>;
  let client: Client;
  const status = async () => {
    const r = await call(client, 'status');
    expect(r.isError ?? false, textOf(r)).toBe(false);
    return r.structuredContent as unknown as Status;
  };
  /** Status twice: the second answer comes from the snapshot (the Docker event feed stands). */
  const primed = async () => {
    const st = await waitFor(
      async () => {
        await status();
        return status();
      },
      (s) => s.fromSnapshot,
      20_000,
    );
    expect(st.fromSnapshot, 'the event subscription never stood up: no snapshot was kept').toBe(true);
    return st;
  };
  const reads = () => server.deps.services.reads;

  beforeAll(async () => {
    resetSandbox(sandbox!, sandbox!.lane);
    server = await startSandboxServer((c) => {
      fastDeploy(c);
      c.deploy.rollbackVerifySeconds = 1;
      c.server.statusSnapshotMs = 60_000;
    });
    client = await connect(server.url);
  });
  afterAll(async () => {
    await client?.close();
    await server?.shutdown();
    if (sandbox) resetSandbox(sandbox, sandbox.lane);
  });

  it('a snapshot says it is one, and how old it is', async () => {
    const st = await primed();
    expect(st.ageMs).toBeGreaterThanOrEqual(0);
    const again = await status();
    expect(again.fromSnapshot).toBe(true);
    expect(again.readAt).toBe(st.readAt); // the same read of the NAS
    const text = textOf(await call(client, 'status'));
    expect(text).toMatch(/status snapshot read from the NAS \d+ ms ago/);
  });

  it('after restart (containers replaced) the next status is fresh and shows it', async () => {
    const before = await primed();
    const from = before.liveColor!;
    const to = from === 'blue' ? 'green' : 'blue';
    const r = await call(client, 'restart');
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const after = await status();
    expect(after.fromSnapshot).toBe(false);
    expect(after.liveColor).toBe(to);
    expect(after.colors[to]).toMatchObject({ state: 'running' });
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'restart', outcome: 'succeeded' });
  });

  it('after rollback to the running color (only the upstream file changes) the next status shows the switch', async () => {
    const before = await primed();
    const back = before.liveColor === 'blue' ? 'green' : 'blue';
    expect(before.colors[back]).toMatchObject({ state: 'running' });
    const r = await call(client, 'rollback');
    expect(r.isError ?? false, textOf(r)).toBe(false);
    const after = await status();
    expect(after.fromSnapshot).toBe(false);
    expect(after.liveColor).toBe(back);
    expect(after.recentDeployments[0]).toMatchObject({ kind: 'rollback', outcome: 'succeeded' });
  });

  it('a color stopped with docker on the NAS, outside the product, shows stopped once its event arrived; started again, running', async () => {
    const before = await primed();
    const idle = before.liveColor === 'blue' ? 'green' : 'blue';
    const name = before.colors[idle]!.name;
    expect(before.colors[idle]).toMatchObject({ state: 'running' });
    expect(reads().keptCount).toBe(1);

    execFileSync(sandbox!.dockerBinary, ['stop', '-t', '1', name], { stdio: 'ignore' });
    // Nothing of this server wrote anything: only Docker's event can drop the snapshot (it lives 60 s).
    await waitFor(() => reads().keptCount, (n) => n === 0, 20_000);
    expect(reads().keptCount, 'the stop event never dropped the snapshot').toBe(0);
    const stopped = await status();
    expect(stopped.fromSnapshot).toBe(false);
    expect(stopped.colors[idle]!.state).toBe('exited');

    // Kept again, then dropped by the start event.
    await primed();
    execFileSync(sandbox!.dockerBinary, ['start', name], { stdio: 'ignore' });
    await waitFor(() => reads().keptCount, (n) => n === 0, 20_000);
    expect(reads().keptCount, 'the start event never dropped the snapshot').toBe(0);
    expect((await status()).colors[idle]!.state).toBe('running');
  });
});

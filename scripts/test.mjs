#!/usr/bin/env node
/**
 * `npm test`: the unit tests and the sandbox lanes side by side, then the
 * files that use both hosts (vitest.config.ts says which file is in which
 * lane and why). One vitest runs the files of a lane one after another;
 * vitest cannot run two projects of one group with a worker each, so each
 * lane gets its own process. Every line is prefixed with its lane.
 *
 * With arguments it is plain `vitest run <args>` (one process, lanes in turn).
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const vitest = ['node_modules/vitest/vitest.mjs', 'run'];
const args = process.argv.slice(2);

function run(label, extra) {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...vitest, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(label ? `[${label}] ${line}\n` : `${line}\n`));
    }
    child.on('close', (code, signal) => resolve({ label, code: code ?? (signal ? 1 : 0), seconds: Math.round((Date.now() - t0) / 1000) }));
  });
}

// The lanes' global setups check the sandbox once for the whole run and leave this mark when it
// is up (test/global-setup.ts).
const runId = `${process.pid}-${Date.now()}`;
const mark = join(tmpdir(), `loop-ops-sandbox-ready-${runId}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  if (args.length > 0) return (await run('', args)).code;
  process.env.LOOP_SANDBOX_RUN_ID = runId;
  try {
    return await lanes();
  } finally {
    rmSync(mark, { force: true });
  }
}

async function lanes() {
  const results = [];
  const t0 = Date.now();
  // The unit tests need no sandbox: they run beside the lanes (most of a lane's time is spent
  // waiting on its NAS: builds, health gates, resets), but only once the sandbox is up: on a cold
  // machine, daemons starting while two cores run the unit tests can miss their start-up timeouts.
  const sandboxLanes = ['prod', 'staging', 'swarm', 'apart'].map((l) => run(l, ['--project', `sandbox-${l}`]));
  let aLaneEnded = false; // e.g. no sandbox here: the lanes skip, and nothing will leave the mark
  void Promise.race(sandboxLanes).then(() => (aLaneEnded = true));
  const unit = (async () => {
    while (!existsSync(mark) && !aLaneEnded) await sleep(500);
    return run('unit', ['--project', 'unit']);
  })();
  results.push(...(await Promise.all([unit, ...sandboxLanes])));
  results.push(await run('fleet', ['--project', 'sandbox-fleet']));
  console.log(`\nlanes: ${results.map((r) => `${r.label} ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code})`} in ${r.seconds} s`).join('; ')}`);
  console.log(`total: ${Math.round((Date.now() - t0) / 1000)} s`);
  return results.some((r) => r.code !== 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

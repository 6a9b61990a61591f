/**
 * Vitest global setup: make sure the sandbox NAS is up and hand its facts to the tests.
 *
 * - Can run (root, apt-get present): `bash scripts/sandbox.sh status`; if not all up,
 *   `bash scripts/sandbox.sh up` (output streamed), then provide .sandbox/sandbox.json.
 * - Cannot run: with CI=true the run fails with the reason; otherwise the sandbox is null
 *   and integration tests skip (describe.skipIf(!getSandbox())).
 * - LOOP_SANDBOX=off skips it on purpose; so does a run that only selects test/unit files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { SandboxFacts } from './helpers/sandbox.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(repoRoot, 'scripts', 'sandbox.sh');
const factsFile = join(repoRoot, '.sandbox', 'sandbox.json');

function whyNot(): string | null {
  if (process.platform !== 'linux') return `the sandbox NAS needs Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return 'the sandbox NAS needs root (it installs packages and runs dockerd, sshd and nginx)';
  }
  if (!existsSync('/usr/bin/apt-get')) return 'the sandbox NAS needs Debian/Ubuntu (apt-get not found)';
  if (!existsSync(script)) return `missing ${script}`;
  return null;
}

/** True when the command line selects only unit-test files (e.g. `vitest run test/unit`). */
function onlyUnitTests(): boolean {
  const filters = process.argv
    .slice(2)
    .filter((a) => !a.startsWith('-') && !['run', 'watch', 'dev', 'related'].includes(a));
  return filters.length > 0 && filters.every((f) => /(^|\/)test\/unit(\/|$)/.test(f));
}

// scripts/test.mjs starts one vitest per lane at once. The first to take this lock checks (and,
// if need be, brings up) the sandbox and leaves a mark for the run (LOOP_SANDBOX_RUN_ID); the
// others wait, see the mark and go on. Checking again later would be wrong: with another lane's
// deploy half-way, `status` reports a host "not as up() leaves it" and `up` would undo it.
const setupLock = join(tmpdir(), 'loop-ops-sandbox-setup.lock');

/** `sandbox.sh status`, and `up` (output streamed) if not all is up; under one lock, once per run. */
function ensureUp(): number {
  const runId = process.env.LOOP_SANDBOX_RUN_ID ?? '';
  const mark = /^[a-z0-9-]{1,64}$/.test(runId) ? join(tmpdir(), `loop-ops-sandbox-ready-${runId}`) : '';
  const res = spawnSync(
    'flock',
    [
      setupLock,
      'bash',
      '-c',
      '[ -n "$1" ] && [ -e "$1" ] && exit 0; ' +
        'if ! bash "$0" status >/dev/null 2>&1; then echo "[global-setup] sandbox NAS is not (fully) up: running scripts/sandbox.sh up"; ' +
        // Once more on failure: a daemon that timed out on a busy machine starts the second time.
        'bash "$0" up || { echo "[global-setup] sandbox.sh up failed; once more"; sleep 2; bash "$0" up; } || exit; fi; ' +
        '[ -z "$1" ] || touch "$1"',
      script,
      mark,
    ],
    { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'], encoding: 'utf8' },
  );
  if (res.error) throw res.error;
  return res.status ?? 1;
}

export default function setup(project: TestProject): void {
  const skip = (reason: string): void => {
    project.provide('sandbox', null);
    project.provide('sandboxSkipReason', reason);
  };

  if (process.env.LOOP_SANDBOX === 'off') return skip('sandbox disabled by LOOP_SANDBOX=off');
  if (onlyUnitTests()) return skip('only unit tests selected');

  const reason = whyNot();
  if (reason) {
    if (process.env.CI === 'true') throw new Error(`sandbox NAS cannot run: ${reason}`);
    return skip(reason);
  }

  // Every lane's project has this setup; in one process the sandbox is checked once.
  if (process.env.LOOP_SANDBOX_CHECKED !== repoRoot) {
    const code = ensureUp();
    // This machine should be able to run it: a failure is an error, not a reason to skip.
    if (code !== 0) throw new Error(`scripts/sandbox.sh up failed (exit ${code}); see its output above`);
  }
  process.env.LOOP_SANDBOX_CHECKED = repoRoot;
  const facts = JSON.parse(readFileSync(factsFile, 'utf8')) as SandboxFacts;
  project.provide('sandbox', facts);
  project.provide('sandboxSkipReason', '');
}

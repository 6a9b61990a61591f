import { defineConfig } from 'vitest/config';

/**
 * The sandbox files, by the host whose state they change. prod and staging
 * are two full copies of the NAS (own sshd, dockerd, nginx, checkouts), the
 * swarm host is a third; files of different lanes share nothing and run at
 * the same time (scripts/test.mjs starts one vitest per lane), files of one
 * lane run one after another.
 */
const LANES = {
  // One-host scenarios on staging (see test/helpers/lane.ts).
  staging: [
    'test/integration/operations.test.ts',
    'test/integration/rollback-to.test.ts',
    'test/integration/observability.test.ts',
    'test/e2e/inspector.test.ts',
    'test/e2e/dashboard.test.ts',
  ],
  swarm: ['test/integration/swarm.test.ts', 'test/integration/swarm-tools.test.ts'],
  // No NAS state at all: the CLI, transports, OAuth. (The product's image is built on prod's
  // Docker, whose `sandbox.sh reset` prunes dangling images, a build's own among them: prod lane.)
  apart: [
    'test/e2e/cli.test.ts',
    'test/integration/transport/**/*.test.ts',
    'test/integration/oauth.test.ts',
    'test/integration/oauth-hardening.test.ts',
    'test/integration/oauth-browser.test.ts',
  ],
  // Both hosts at once: after every lane is done.
  fleet: ['test/integration/targets.test.ts', 'test/integration/sandbox-hosts.test.ts'],
};
const SANDBOX_FILES = ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'];

/** A lane's vitest project: the sandbox's global setup, its files one at a time. */
const lane = (name: string, host: 'prod' | 'staging', groupOrder: number, include: string[], exclude: string[] = []) => ({
  extends: true as const,
  test: {
    name: `sandbox-${name}`,
    include,
    exclude,
    env: { LOOP_SANDBOX_LANE: host },
    // Brings the sandbox NAS up (scripts/sandbox.sh) and provides its facts to the tests.
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    sequence: { groupOrder },
  },
});

export default defineConfig({
  test: {
    testTimeout: 60_000,
    // The first run installs packages and builds images: allow a cold start.
    hookTimeout: 600_000,
    reporters: ['default'],
    projects: [
      {
        // Unit tests share nothing: their files run in parallel, first (group 0), so they
        // never compete for the CPU with a deploy under load.
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      // In one vitest process (e.g. `npx vitest run test/integration/x.test.ts`) the lanes of
      // group 1 run one file at a time; scripts/test.mjs runs them side by side.
      // prod takes every sandbox file no other lane names.
      lane('prod', 'prod', 1, SANDBOX_FILES, Object.values(LANES).flat()),
      lane('staging', 'staging', 1, LANES.staging),
      lane('swarm', 'prod', 1, LANES.swarm),
      lane('apart', 'prod', 1, LANES.apart),
      lane('fleet', 'prod', 2, LANES.fleet),
    ],
  },
});

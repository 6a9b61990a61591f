import { defineConfig } from 'vitest/config';

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
      {
        extends: true,
        test: {
          name: 'sandbox',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          // Brings the sandbox NAS up (scripts/sandbox.sh) and provides its facts to the tests.
          globalSetup: ['test/global-setup.ts'],
          // These files share the sandbox's hosts, apps and ports: one at a time.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});

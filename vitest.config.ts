import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Brings the sandbox NAS up (scripts/sandbox.sh) and provides its facts to the tests.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    // The first run installs packages and builds images: allow a cold start.
    hookTimeout: 600_000,
    // Integration tests share one NAS: run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});

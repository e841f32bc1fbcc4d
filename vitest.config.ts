import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Its own run (vitest.topology.config.ts), after this one.
    exclude: ['test/topology/**', '**/node_modules/**', 'bench/tmp/**', '.tmp/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end suites start real processes and servers; two cores cannot run many at once.
    fileParallelism: true,
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});

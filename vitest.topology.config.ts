import { defineConfig } from 'vitest/config';

/**
 * `npm run test:topology`: the production shape as containers. Its own run, after the rest of `npm test`: seven
 * containers, two Redis servers and PostgreSQL take this machine's two cores, and a test beside them would slow
 * both into timeouts.
 */
export default defineConfig({
  test: {
    include: ['test/topology/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 1_200_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});

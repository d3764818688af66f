import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: crashes, database restarts and long workloads, one file at a time. */
export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    include: ['test/faults/**/*.faults.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: 'forks',
  },
});

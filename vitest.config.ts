import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    include: ['test/**/*.test.ts'],
    // The fault suite (crashes, database restarts, a 15-60 s bank workload) runs with `npm run test:faults`.
    exclude: ['test/faults/**/*.faults.test.ts', 'node_modules/**'],
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests spawn the CLI and servers; two cores are all CI has.
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // S3/SQS (fauxqs) and DynamoDB Local, started once per run; endpoints via inject().
    // The built CLI (dist/) the tests spawn; then the emulators.
    globalSetup: ['./test/support/global-build.ts', './test/support/global-emulators.ts'],
  },
});

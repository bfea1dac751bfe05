import { defineConfig } from 'vitest/config';

// npm run soak: the long versions of the reliability tests, and the sqlmap and wapiti scans.
export default defineConfig({
  test: {
    pool: 'forks',
    // Each file's data directories are removed when it ends.
    setupFiles: ['test/support/setup.ts'],
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 120_000,
    expect: { poll: { timeout: 30_000, interval: 100 } },
    projects: [
      {
        extends: true,
        test: {
          name: 'soak',
          include: ['test/soak/**/*.test.ts', 'test/postgres/races.test.ts', 'test/postgres/processes.test.ts'],
          globalSetup: ['test/support/global-postgres.ts'],
          env: { SOAK_SCALE: process.env.SOAK_SCALE ?? '10' },
        },
      },
    ],
  },
});

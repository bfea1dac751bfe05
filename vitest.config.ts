import { defineConfig } from 'vitest/config';

// Integration tests run twice: on PGlite (the embedded default) and on a throwaway PostgreSQL server.
export default defineConfig({
  test: {
    pool: 'forks',
    // Each file's data directories are removed when it ends.
    setupFiles: ['test/support/setup.ts'],
    // Most tests wait on PostgreSQL, HTTP and Chromium rather than compute: two files per core keep
    // a small machine busy.
    maxWorkers: 4,
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // expect.poll waits for pages to settle; the default second is too short on two busy cores.
    expect: { poll: { timeout: 10_000, interval: 50 } },
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true,
        test: { name: 'pglite', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/support/global-pglite.ts'] },
      },
      {
        extends: true,
        test: { name: 'postgres', include: ['test/integration/**/*.test.ts', 'test/postgres/**/*.test.ts'], globalSetup: ['test/support/global-postgres.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/support/global-postgres.ts'],
          testTimeout: 120_000,
        },
      },
    ],
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'runs/**', '.lab/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration tests start real processes; two cores do not gain from more forks.
    maxWorkers: 2,
    reporters: ['default', './test/count-reporter.ts'],
  },
});

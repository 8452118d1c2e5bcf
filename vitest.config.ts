import { defineConfig } from 'vitest/config';

const shared = {
  exclude: ['node_modules/**', 'runs/**', '.lab/**'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/count-reporter.ts'],
    // Two cores: unit and integration tests first, two files at a time; then the
    // end-to-end scenario runs one at a time on a quiet machine, because their
    // verdicts include latency thresholds (p95 < 100 ms) that CPU contention would blur.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'unit-integration', include: ['**/*.test.ts'], exclude: [...shared.exclude, 'test/e2e/**'], sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'e2e', include: ['test/e2e/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});

import { defineConfig } from 'vitest/config';

const shared = {
  exclude: ['node_modules/**', 'runs/**', '.lab/**'],
  testTimeout: 30_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    reporters: ['default', './test/count-reporter.ts'],
    // Two cores: unit tests first, two files at a time; `npm test` runs them
    // quietly, then the integration and end-to-end projects beside one busy
    // core (scripts/busy-neighbour.ts), each test once, in the harder condition.
    // End-to-end scenario runs go one at a time: two at once would be each
    // other's busy neighbour on top of the one the command keeps.
    maxWorkers: 2,
    projects: [
      { test: { ...shared, name: 'unit', include: ['**/*.test.ts'], exclude: [...shared.exclude, 'test/integration/**', 'test/e2e/**'], sequence: { groupOrder: 0 } } },
      { test: { ...shared, name: 'integration', include: ['test/integration/**/*.test.ts'], sequence: { groupOrder: 1 } } },
      { test: { ...shared, name: 'e2e', include: ['test/e2e/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 2 } } },
    ],
  },
});

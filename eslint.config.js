// Lint keeps the code honest where the type checker cannot: unused code,
// floating promises (a dropped promise is a lost error), and imports that
// flow one way (services never import the runner).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'runs/**', 'coverage/**', '.lab/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The demo services, collector, chaos and load engines are parts the runner
    // assembles; they must not reach back into the runner or the CLI.
    files: ['collector/**/*.ts', 'chaos/**/*.ts', 'load/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/scripts/**', '**/runner/**'], message: 'lab parts must not import the runner or the CLI' }] }],
    },
  },
  {
    // The shop stands on its own: what it shares with the load generator (prices,
    // SKUs) lives in demo-services and the load side imports it, never the reverse.
    // demo-services/imports.test.ts checks the same without lint.
    files: ['demo-services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/scripts/**', '**/runner/**', '**/load/**', '**/bench/**'], message: 'demo-services must not import the load generator, the runner, the CLI or the benchmarks' }] },
      ],
    },
  },
);

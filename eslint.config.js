// Flat config. The one architectural rule CI enforces: src/analyzer/ and src/triage/ are pure.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'node:fs', 'node:fs/promises', 'fs', 'fs/promises',
  'node:net', 'net', 'node:child_process', 'child_process',
  'node:dgram', 'node:http', 'node:https', 'node:os',
  'ssh2', 'ioredis', 'bullmq', 'pino',
];
const pureRule = {
  'no-restricted-imports': ['error', {
    paths: ioModules.map((name) => ({ name, message: 'src/analyzer and src/triage are pure: take I/O as a parameter instead.' })),
    patterns: [
      { group: ['@slack/*'], message: 'src/analyzer and src/triage are pure: no Slack imports.' },
      { group: ['**/remote/**', '**/queue/**', '**/slack/**', '**/lab/**', '**/fix/apply*', '**/log/**'], message: 'Pure modules may not import I/O layers.' },
    ],
  }],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'var/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', performance: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      'import/no-default-export': 'off',
    },
  },
  { files: ['src/analyzer/**/*.ts', 'src/triage/**/*.ts'], rules: pureRule },
  { files: ['src/cli/**/*.ts', 'test/**/*.ts', 'scripts/**', '*.js'], rules: { 'no-console': 'off' } },
);

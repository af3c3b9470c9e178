// Lint rules that protect the architecture, not taste: workflow code must stay deterministic,
// and no promise may float (an un-awaited Temporal call is a lost step).
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'async_hooks', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events',
  'fs', 'fs/promises', 'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process',
  'readline', 'stream', 'timers', 'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.switchyard/**', 'test/.tmp/**', 'bench/.tmp/**', 'bench/results/**', 'scratch/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's describe/it return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Workflow code is replayed: it may import only @temporalio/workflow, shared definitions,
    // and activity *types*. Node built-ins and activity values would break determinism.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: nodeBuiltins.flatMap((name) => [
          { name, message: 'Workflow code must not import Node built-ins.' },
          { name: `node:${name}`, message: 'Workflow code must not import Node built-ins.' },
        ]),
        patterns: [
          { group: ['node:*'], message: 'Workflow code must not import Node built-ins.' },
          { group: ['**/activities', '**/activities/*', '**/activities/**'], allowTypeImports: true,
            message: 'Workflows may import activity types only (import type).' },
          // Its zod schemas would be bundled and initialised again for every workflow (one per
          // tool call): about 7 ms of worker CPU per call (docs/performance.md).
          { group: ['**/shared/envelope', '**/shared/envelope.js'], allowTypeImports: true,
            message: 'Workflows may import types only from shared/envelope (it defines zod schemas); put constants in a module without schemas.' },
          { group: ['**/gateway/**', '**/workers/**', '**/downstream/**', '**/config/load*', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@modelcontextprotocol/*'],
            message: 'Workflow code may import only @temporalio/workflow and src/shared.' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Workflows have no intervals; use sleep() in a loop.' },
        { name: 'process', message: 'Workflow code must not read the process.' },
      ],
    },
  },
);

// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', '.data/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed from history:
    // it may import only @temporalio/workflow, its sibling workflow files, and types.
    files: ['workflows/**/*.ts'],
    languageOptions: { globals: {} },
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/workflow$|\\./|\\.\\./)',
              message:
                'workflows/ is replayed deterministically: import only @temporalio/workflow and sibling workflow files (use `import type` for contracts).',
            },
            {
              // src/temporal/contracts is the one shared module (STYLE 6); it imports nothing.
              regex: '^\\.\\./(?!src/temporal/contracts$)',
              allowTypeImports: true,
              message:
                'workflows/ may only import types from outside its folder (`import type`), and values from src/temporal/contracts only.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'setImmediate', 'fetch'].map(
          (name) => ({ name, message: `${name} is not available or not deterministic in workflows` }),
        ),
      ],
    },
  },
  {
    // Workflows import values from the contracts, so the contracts must stay free of imports.
    files: ['src/temporal/contracts.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '.*', message: 'contracts.ts is bundled into workflows: no imports.' }] },
      ],
    },
  },
);

// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers (docs/architecture.md): entry points (src/main) -> api -> services -> db, temporal,
 * schedule, discord and the embedded services. A relative import of a layer above is an error.
 * The patterns read the import as written, so each is anchored to a relative path ending in the
 * layer's folder; `import type` counts too (a type is a dependency as well).
 */
/** @param {string} folder */
const importOf = (folder) => `^\\.{1,2}/(?:\\.\\./)*(?:src/)?${folder}(?:/|$)`;
const noApi = {
  regex: importOf('api'),
  message:
    'Only src/api and src/main may import src/api: throw an AppError from src/errors.ts and let the error handler map it.',
};
const noMain = {
  regex: importOf('main'),
  message:
    'src/main is the composition root: nothing but src/main (and tests, bench, scripts) imports it. Move what you need to the layer it belongs to.',
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      '.data/',
      'bench/results/',
      // The web console's build output and its client types, generated from openapi.yaml.
      'web/dist/',
      'web/src/api/schema.d.ts',
    ],
  },
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
    // The web console runs in the browser.
    files: ['web/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Everything below the HTTP layer: it knows neither the API nor the composition root.
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: ['src/api/**', 'src/main/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [noApi, noMain] }],
    },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [noMain] }] },
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
              // src/api and src/main are left to the two patterns below, which allow no types.
              regex: '^\\.\\./(?!src/temporal/contracts$|src/(?:api|main)(?:/|$))',
              allowTypeImports: true,
              message:
                'workflows/ may only import types from outside its folder (`import type`), and values from src/temporal/contracts only.',
            },
            // Not even types from the layers above: workflows sit below the API and the root.
            noApi,
            noMain,
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', '__dirname', '__filename', 'setImmediate', 'fetch'].map(
          (name) => ({
            name,
            message: `${name} is not available or not deterministic in workflows`,
          }),
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
        {
          patterns: [
            { regex: '.*', message: 'contracts.ts is bundled into workflows: no imports.' },
          ],
        },
      ],
    },
  },
);

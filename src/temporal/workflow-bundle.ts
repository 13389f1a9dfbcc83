import path from 'node:path';

/**
 * The prebuilt workflow bundle (`npm run build` writes it); without it, e.g. under tsx, the
 * worker bundles workflows/ at start-up.
 */
export const WORKFLOW_BUNDLE_PATH = path.resolve(__dirname, '../../workflow-bundle.js');

/** workflows/index (.ts under tsx and ts-jest, .js once compiled). */
export const WORKFLOWS_PATH = require.resolve('../../workflows');

import path from 'node:path';
import { defineConfig } from '@playwright/test';

/**
 * Browser tests of the web console (`npm run test:browser`): Debian's Chromium (browser builds
 * cannot be downloaded here; .ci/run installs the package when it is missing), against the real
 * product started as a user starts it (fixtures.ts). One worker: the tests share that product.
 */
export default defineConfig({
  testDir: __dirname,
  testMatch: '*.spec.ts',
  outputDir: path.join(__dirname, '../../.data/playwright'),
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  // .ci/run adds the JSON reporter (--reporter=list,json) to count the results.
  reporter: 'list',
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});

import path from 'node:path';
import AxeBuilder from '@axe-core/playwright';
import { test as base, expect, type Page } from '@playwright/test';
import { createProduct, type Product } from '../helpers/product';
import { type MockDiscord, startMockDiscord } from '../helpers/mock-discord';

/** A key of API_KEYS_READ_ONLY (SPEC §14): it may read, not write. */
export const READ_ONLY_KEY = 'console-reader-0123456789abcdef';

export interface Services {
  product: Product;
  discord: MockDiscord;
  /** Calls the product's API with its key (set-up steps that are not what a test is about). */
  api: <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;
  /** Calls the product's API with another key, and gives the answer as it is, refusals too. */
  apiWithKey: (key: string, method: string, path: string, body?: unknown) => Promise<Response>;
}

/**
 * The product as a user runs it (embedded PostgreSQL and Temporal dev server, `npm start`'s entry
 * point) with its webhooks allowed only on a local mock Discord; started once for the worker and
 * shared by its tests. Retries are quick (1 s apart) so a failing webhook's attempts show in
 * seconds.
 */
export const test = base.extend<{ signedIn: Page }, { services: Services }>({
  services: [
    // Playwright reads the fixtures a fixture needs from this pattern; this one needs none.
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      const discord = await startMockDiscord();
      const product = await createProduct({
        env: {
          WEBHOOK_ALLOWED_ORIGINS: discord.url,
          API_KEYS_READ_ONLY: READ_ONLY_KEY,
          RETRY_INITIAL_INTERVAL: '1s',
          RETRY_BACKOFF_COEFFICIENT: '1',
          RETRY_MAX_INTERVAL: '1s',
          LOG_LEVEL: 'warn',
        },
      });
      try {
        await product.start(180_000);
        const apiWithKey = (key: string, method: string, path: string, body?: unknown) =>
          fetch(`${product.url}${path}`, {
            method,
            headers: { 'X-API-Key': key, 'Content-Type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
        const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
          const res = await apiWithKey(product.apiKey, method, path, body);
          const text = await res.text();
          if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
          return (text ? JSON.parse(text) : undefined) as T;
        };
        await use({ product, discord, api, apiWithKey });
      } finally {
        await product.dispose();
        await discord.close();
      }
    },
    { scope: 'worker', timeout: 240_000 },
  ],
  baseURL: async ({ services }, use) => use(services.product.url),
  /** A page signed in with the product's key. */
  signedIn: async ({ page, services }, use) => {
    await page.goto('/');
    await page.getByLabel('API key').fill(services.product.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
    await use(page);
  },
});

export { expect };

/** axe-core over the page as it is: no serious or critical finding (WCAG 2.1 A/AA rules). */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'])
    .analyze();
  const findings = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  expect(findings, `axe findings on the ${screen} screen`).toEqual([]);
}

/** The README's pictures of the console (docs/screenshots/<name>.png). */
export const screenshot = (page: Page, name: string, fullPage = false) =>
  page.screenshot({
    path: path.join(__dirname, '../../docs/screenshots', `${name}.png`),
    fullPage,
    animations: 'disabled',
  });

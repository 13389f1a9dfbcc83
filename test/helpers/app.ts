import type { Express } from 'express';
import { createApp, type AppDeps } from '../../src/api/app';
import { initOrm, type Orm } from '../../src/db/orm';
import { createLogger } from '../../src/logger';
import { createMetrics } from '../../src/metrics';
import { createServices, type Services } from '../../src/services';
import { loadConfig } from '../../src/config';
import { createSecretBox, parseEncryptionKey } from '../../src/crypto/secrets';
import { createTemporalClient, type TemporalClientHandle } from '../../src/temporal/client';

export const TEST_API_KEY = 'test-key-0123456789abcdef';
export const ROTATED_API_KEY = 'rotated-key-fedcba9876543210';
/** A key of API_KEYS_READ_ONLY (SPEC §14): every read, never a write. */
/**
 * The encryption key of the tests' processes (ENCRYPTION_KEYS, SPEC §15), set by the global setup
 * when the environment has none: fixed, so every process of a run opens what another sealed.
 */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');

/** The secrets box the tests' services use. */
export const testSecrets = () => createSecretBox([parseEncryptionKey(TEST_ENCRYPTION_KEY)]);

export const READ_ONLY_API_KEY = 'read-only-key-0123456789abcdef';

export interface TestApp {
  app: Express;
  /** The services the app was built with (unless overridden), for tests that call them directly. */
  services: Services;
  orm: Orm;
  temporal: TemporalClientHandle;
  close(): Promise<void>;
}

/** Environment exported by the Jest global setup. */
export function testEnv(): {
  databaseUrl: string;
  temporalAddress: string;
  temporalCliPath: string;
} {
  const { DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_CLI_PATH } = process.env;
  if (!DATABASE_URL || !TEMPORAL_ADDRESS || !TEMPORAL_CLI_PATH) {
    throw new Error('run this test through jest so that the global setup starts the services');
  }
  return {
    databaseUrl: DATABASE_URL,
    temporalAddress: TEMPORAL_ADDRESS,
    temporalCliPath: TEMPORAL_CLI_PATH,
  };
}

/** The real app on the real services, validating every response against the OpenAPI document. */
export async function createTestApp(
  overrides: Partial<AppDeps> & { temporalAddress?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<TestApp> {
  const env = testEnv();
  const orm = overrides.orm ?? (await initOrm({ databaseUrl: env.databaseUrl, poolMax: 4 }));
  const temporal =
    overrides.temporal ??
    createTemporalClient({
      address: overrides.temporalAddress ?? env.temporalAddress,
      namespace: 'default',
    });
  // Connected before the first request, as the API process is by its start-up work (the search
  // attributes, reconciliation): a lazy connection made by a test's first create could take over
  // the circuit's 200 + 700 ms on a loaded machine, and that create answered 503 (CI, once).
  if (!overrides.temporal) await temporal.connection.ensureConnected();
  const logger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const config = loadConfig({ ...process.env, ...overrides.env });
  const services = createServices({ config, orm, temporal, logger });
  const app = createApp({
    logger,
    metrics: createMetrics(),
    services,
    apiKeys: [TEST_API_KEY, ROTATED_API_KEY],
    readOnlyApiKeys: [READ_ONLY_API_KEY],
    validateResponses: true,
    ...overrides,
    orm,
    temporal,
  });
  return {
    app,
    services,
    orm,
    temporal,
    async close() {
      await orm.close();
      await temporal.close();
    },
  };
}

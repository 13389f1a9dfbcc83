import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig, parseDuration } from '../../src/config';

const ROOT = path.resolve(__dirname, '../..');

function configError(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('when the environment is empty, then the SPEC §3 defaults apply', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      role: 'all',
      port: 3005,
      apiKeys: [],
      databaseUrl: undefined,
      temporalAddress: undefined,
      temporalNamespace: 'default',
      temporalTaskQueue: 'discord-webhooks',
      webhookAllowedOrigins: [
        'https://discord.com',
        'https://discordapp.com',
        'https://ptb.discord.com',
        'https://canary.discord.com',
      ],
      webhookTimeoutMs: 10_000,
      retry: { initialIntervalMs: 2_000, backoffCoefficient: 2, maximumIntervalMs: 300_000 },
      scheduleCatchupWindowMs: 300_000,
      logLevel: 'info',
      logFormat: undefined,
      redisUrl: undefined,
      logRetentionDays: 90,
      logPruneBatchSize: 5_000,
      databasePoolMax: 10,
      deliveryRateLimitDeadlineMs: 3_600_000,
      discordInvalidRequestBudget: 5_000,
    });
    expect(config.embedded.temporalUiPort).toBe(8233);
    expect(config.embedded.dataDir).toBe(path.resolve('.data'));
  });

  it('when values are given, then they are parsed and typed', () => {
    const config = loadConfig({
      PORT: '4000',
      API_KEY: ' first-key-0123456789 , second-key-0123456789 ',
      API_KEYS_READ_ONLY: 'reader-key-0123456789,other-reader-0123456789',
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      TEMPORAL_ADDRESS: 'temporal:7233',
      WEBHOOK_ALLOWED_ORIGINS: 'http://127.0.0.1:9999, https://discord.com/',
      RETRY_INITIAL_INTERVAL: '1500ms',
      RETRY_MAX_INTERVAL: '1h',
      SCHEDULE_CATCHUP_WINDOW: '90s',
      ROLE: 'worker',
      LOG_FORMAT: 'json',
    });
    expect(config.port).toBe(4000);
    expect(config.apiKeys).toEqual(['first-key-0123456789', 'second-key-0123456789']);
    expect(config.apiKeysReadOnly).toEqual(['reader-key-0123456789', 'other-reader-0123456789']);
    // Outside production, alerts link to the console where npm start serves it.
    expect(config.publicUrl).toBe('http://localhost:4000');
    expect(config.alertWebhookUrl).toBeUndefined();
    expect(
      loadConfig({
        PUBLIC_URL: 'https://scheduler.example.com/',
        ALERT_WEBHOOK_URL: 'https://discord.com/api/webhooks/1/alert-token_0123',
      }),
    ).toMatchObject({
      publicUrl: 'https://scheduler.example.com',
      alertWebhookUrl: 'https://discord.com/api/webhooks/1/alert-token_0123',
    });
    expect(config.webhookAllowedOrigins).toEqual(['http://127.0.0.1:9999', 'https://discord.com']);
    expect(config.retry.initialIntervalMs).toBe(1_500);
    expect(config.retry.maximumIntervalMs).toBe(3_600_000);
    expect(config.scheduleCatchupWindowMs).toBe(90_000);
    expect(config.role).toBe('worker');
    expect(config.logFormat).toBe('json');
  });

  it("when Discord's limits are set, then the deadline is a duration and the budget stays under Cloudflare's 10,000", () => {
    const config = loadConfig({
      DELIVERY_RATE_LIMIT_DEADLINE: '15m',
      DISCORD_INVALID_REQUEST_BUDGET: '2500',
    });
    expect(config.deliveryRateLimitDeadlineMs).toBe(900_000);
    expect(config.discordInvalidRequestBudget).toBe(2_500);
    expect(() => loadConfig({ DISCORD_INVALID_REQUEST_BUDGET: '10000' })).toThrow(
      /DISCORD_INVALID_REQUEST_BUDGET/,
    );
    expect(() => loadConfig({ DELIVERY_RATE_LIMIT_DEADLINE: 'soon' })).toThrow(
      /DELIVERY_RATE_LIMIT_DEADLINE/,
    );
  });

  it('when DATABASE_POOL_MAX is set, then each process opens at most that many connections', () => {
    expect(loadConfig({ DATABASE_POOL_MAX: '4' }).databasePoolMax).toBe(4);
  });

  it('when LOG_RETENTION_DAYS is 0, then every log is kept (0 is allowed)', () => {
    expect(loadConfig({ LOG_RETENTION_DAYS: '0' }).logRetentionDays).toBe(0);
  });

  it('when the config is returned, then it is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.retry)).toBe(true);
    expect(() => (config.apiKeys as string[]).push('x')).toThrow();
  });

  it.each([
    [{ PORT: 'abc' }, /^Invalid configuration: PORT must be a number$/],
    [{ PORT: '70000' }, /PORT must be less than or equal to 65535/],
    [{ ROLE: 'scheduler' }, /ROLE must be one of \[api, worker, all\]/],
    [{ RETRY_INITIAL_INTERVAL: 'soon' }, /RETRY_INITIAL_INTERVAL must be a duration such as/],
    [{ SCHEDULE_CATCHUP_WINDOW: '1s' }, /SCHEDULE_CATCHUP_WINDOW must be at least 10000ms/],
    [{ RETRY_INITIAL_INTERVAL: '500ms' }, /RETRY_INITIAL_INTERVAL must be at least 1000ms/],
    [
      { RETRY_BACKOFF_COEFFICIENT: '0.5' },
      /RETRY_BACKOFF_COEFFICIENT must be greater than or equal to 1/,
    ],
    [{ WEBHOOK_TIMEOUT_MS: '10' }, /WEBHOOK_TIMEOUT_MS must be greater than or equal to 100/],
    [{ DATABASE_URL: 'mysql://x/y' }, /DATABASE_URL must be a valid uri/],
    [{ TEMPORAL_ADDRESS: 'http://temporal' }, /TEMPORAL_ADDRESS must be host:port/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ LOG_FORMAT: 'yaml' }, /LOG_FORMAT must be json or pretty/],
    [
      { WEBHOOK_ALLOWED_ORIGINS: 'discord.com' },
      /WEBHOOK_ALLOWED_ORIGINS must be a comma-separated list of origins/,
    ],
    [{ WEBHOOK_ALLOWED_ORIGINS: 'https://discord.com/api' }, /WEBHOOK_ALLOWED_ORIGINS/],
    [{ API_KEY: 'short' }, /API_KEY keys must be at least 16 characters/],
    [{ API_KEYS_READ_ONLY: 'short' }, /API_KEYS_READ_ONLY keys must be at least 16 characters/],
    [
      { ALERT_WEBHOOK_URL: 'https://example.com/api/webhooks/1/token' },
      /ALERT_WEBHOOK_URL must be a Discord webhook URL: /,
    ],
    [{ PUBLIC_URL: 'ftp://example.com' }, /PUBLIC_URL must be an http\(s\) URL/],
    [
      { API_KEY: 'both-kinds-0123456789', API_KEYS_READ_ONLY: 'both-kinds-0123456789' },
      /a key is in both API_KEY and API_KEYS_READ_ONLY/,
    ],
    [
      { RETRY_INITIAL_INTERVAL: '10m', RETRY_MAX_INTERVAL: '5m' },
      /RETRY_MAX_INTERVAL must not be shorter/,
    ],
    [{ REDIS_URL: 'http://redis' }, /REDIS_URL must be a valid uri/],
    [{ LOG_RETENTION_DAYS: '-1' }, /LOG_RETENTION_DAYS must be greater than or equal to 0/],
    [{ LOG_RETENTION_DAYS: '1.5' }, /LOG_RETENTION_DAYS must be an integer/],
    [{ LOG_PRUNE_BATCH_SIZE: '10' }, /LOG_PRUNE_BATCH_SIZE must be greater than or equal to 100/],
    // One connection would leave a write waiting on the reads of its own process.
    [{ DATABASE_POOL_MAX: '1' }, /DATABASE_POOL_MAX must be greater than or equal to 2/],
  ])('when %j is set, then a one-line error names the variable', (env, expected) => {
    const message = configError(env);
    expect(message).toMatch(expected);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('when NODE_ENV is production, then API_KEY, DATABASE_URL and TEMPORAL_ADDRESS are required', () => {
    expect(configError({ NODE_ENV: 'production' })).toMatch(/API_KEY is required/);
    expect(configError({ NODE_ENV: 'production', API_KEY: 'k'.repeat(32) })).toMatch(
      /DATABASE_URL is required/,
    );
    expect(
      configError({
        NODE_ENV: 'production',
        API_KEY: 'k'.repeat(32),
        DATABASE_URL: 'postgres://db/app',
      }),
    ).toMatch(/TEMPORAL_ADDRESS is required/);
    expect(
      configError({
        NODE_ENV: 'production',
        API_KEY: 'k'.repeat(32),
        DATABASE_URL: 'postgres://db/app',
        TEMPORAL_ADDRESS: 'temporal:7233',
      }),
    ).toMatch(/ENCRYPTION_KEYS is required/);
  });

  it('when ENCRYPTION_KEYS holds a key that is not 32 bytes, then the message says how to make one and does not echo it', () => {
    const message = configError({
      ENCRYPTION_KEYS: `${Buffer.alloc(32, 1).toString('base64')},hunter2-not-a-key`,
    });
    expect(message).toContain('ENCRYPTION_KEYS');
    expect(message).toContain('openssl rand -base64 32');
    expect(message).not.toContain('hunter2');
  });

  it('when ENCRYPTION_KEYS holds keys, then they are read in order (the first seals)', () => {
    const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    const config = loadConfig({ ENCRYPTION_KEYS: `${a.toString('base64')}, ${b.toString('hex')}` });
    expect(config.encryptionKeys).toEqual([a, b]);
  });

  it('when a secret value is invalid, then the message does not echo it', () => {
    const secret = 'postgres://admin:hunter2-secret@db';
    const message = configError({ DATABASE_URL: `${secret} with spaces` });
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('hunter2');
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['2s', 2_000],
    ['1.5s', 1_500],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
  ])('when given %s, then it is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', 'm5', '5 minutes', '-1s'])('when given %j, then it is rejected', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('process start-up with a bad value', () => {
  it('when PORT is invalid, then the process exits 1 with one line naming PORT', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main/start.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, PORT: 'not-a-port' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('Invalid configuration: PORT must be a number');
    expect(result.stdout).toBe('');
  });
});

import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger };

/** Per-request context (request id), read by every log line written while serving it. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/**
 * Paths pino censors wherever they appear. Webhook URLs carry the Discord token and API keys are
 * credentials; neither may reach a log line (SPEC §7).
 */
export const REDACT_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'apiKey',
  'apiKeys',
  'webhookUrl',
  'webhook_url',
  '*.webhookUrl',
  '*.webhook_url',
  'config.apiKeys',
];

export function createLogger(options: { level: string; name?: string }): Logger {
  return pino({
    name: options.name ?? 'discord-task-scheduler',
    level: options.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const store = requestContext.getStore();
      return store ? { requestId: store.requestId } : {};
    },
  });
}

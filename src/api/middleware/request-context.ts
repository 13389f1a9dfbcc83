import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import { redactWebhookTokens } from '../../discord/webhook-url';
import { type Logger, requestContext } from '../../logger';

const INCOMING_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every request an id (a well-formed incoming X-Request-Id is kept so callers can
 * correlate), echoes it in the response, binds it to every log line written while serving the
 * request, and writes one access-log line per request without headers or bodies.
 */
export function createRequestContext(logger: Logger): RequestHandler[] {
  const assignId: RequestHandler = (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    (req as { id?: string }).id = requestId;
    requestContext.run({ requestId }, () => next());
  };
  const accessLog = pinoHttp({
    logger,
    genReqId: (req) => (req as { id?: string }).id ?? randomUUID(),
    customLogLevel: (_req, res, err) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        // The path only: query strings are not logged (nor a webhook token in a mistyped path).
        url: redactWebhookTokens(req.url.split('?')[0] ?? ''),
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
  });
  return [assignId, accessLog];
}

import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import { redactWebhookTokens } from '../../discord/webhook-url';
import { type Logger, requestContext } from '../../logger';

const INCOMING_ID = /^[\w.:-]{1,128}$/;

/** Probes that would drown the access log. */
const QUIET_PATHS = new Set(['/health', '/metrics']);

/**
 * Gives every request an id (a well-formed incoming X-Request-Id is kept so callers can
 * correlate), echoes it in the response, binds it to every log line written while serving the
 * request, and writes one access-log line per request without headers, query or body: info for
 * 2xx/3xx, warn for 4xx, error for 5xx and for a connection closed before the response ended.
 *
 * Deliberately small (this runs on every request, SPEC §9): no child logger per request; the
 * line is only built when its level is enabled.
 */
export function createRequestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    (req as { id?: string }).id = requestId;
    if (!QUIET_PATHS.has(req.path)) {
      const started = performance.now();
      const done = () => {
        res.off('finish', done);
        res.off('close', done);
        const aborted = !res.writableFinished;
        const level =
          aborted || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
        if (!logger.isLevelEnabled(level)) return;
        requestContext.run({ requestId }, () =>
          logger[level](
            {
              req: {
                id: requestId,
                method: req.method,
                // The path only: query strings are not logged (nor a webhook token in a mistyped path).
                url: redactWebhookTokens(req.originalUrl.split('?')[0] ?? ''),
              },
              res: { statusCode: res.statusCode },
              responseTime: Math.round(performance.now() - started),
            },
            aborted ? 'request aborted' : 'request completed',
          ),
        );
      };
      res.on('finish', done);
      res.on('close', done);
    }
    requestContext.run({ requestId }, () => next());
  };
}

import { ScheduleNotFoundError } from '@temporalio/client';
import {
  NotFoundError as OrmNotFoundError,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { isDatabaseUnavailable } from '../db/orm';
import { AppError, type AppErrorType, DATABASE_UNAVAILABLE, type FieldError } from '../errors';
import type { Logger } from '../logger';
import { isTemporalUnavailable } from '../temporal/client';

export const PROBLEM_BASE = 'https://discord-task-scheduler.dev/problems';

/**
 * `Retry-After` of every 503: a dependency that is down is probed again about once a second, so
 * a client that waits this long sees it back soon after it is.
 */
export const RETRY_AFTER_SECONDS = 2;

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldError[];
}

const TITLES: Record<number, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

const TYPES: Record<number, string> = {
  400: 'validation-error',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  422: 'unprocessable',
  429: 'rate-limited',
  500: 'internal-error',
  501: 'not-implemented',
  503: 'service-unavailable',
};

/** What each of the application's own errors is on the wire; its `type` stays its problem type. */
const STATUS_OF: Record<AppErrorType, number> = {
  'validation-error': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  unprocessable: 422,
  'rate-limited': 429,
  'service-unavailable': 503,
};

export function problem(status: number, detail: string, errors?: FieldError[]): Problem {
  return {
    type: `${PROBLEM_BASE}/${TYPES[status] ?? 'error'}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

export function sendProblem(res: Response, body: Problem): void {
  // Every 503 is a dependency outage (SPEC §5): tell the client when to ask again.
  if (body.status === 503) res.set('Retry-After', String(RETRY_AFTER_SECONDS));
  res.status(body.status).type('application/problem+json').json(body);
}

/** `/body/payload/content` -> `body.payload.content`. */
function toFieldPath(path: string | undefined): string {
  return (path ?? '').replace(/^[./]+/, '').replace(/[/]/g, '.');
}

/** Maps any error to a problem document; never echoes a secret or a stack to the client. */
export function toProblem(err: unknown): Problem {
  if (err instanceof AppError) {
    return {
      ...problem(STATUS_OF[err.type], err.message, err.errors),
      type: `${PROBLEM_BASE}/${err.type}`,
    };
  }
  if (isValidatorError(err)) {
    const e = err as {
      status: number;
      message: string;
      errors?: { path?: string; message: string }[];
    };
    const errors = (e.errors ?? []).map((item) => ({
      path: toFieldPath(item.path),
      message: item.message,
    }));
    if (e.status === 404) return problem(404, 'No such route.');
    if (e.status === 415) return problem(415, 'Send the body as application/json.', errors);
    if (e.status >= 500) return problem(500, 'The server failed to handle the request.');
    return problem(
      e.status,
      e.status === 400 ? 'The request is invalid; see errors.' : e.message,
      errors,
    );
  }
  const bodyParserType = (err as { type?: string } | null)?.type;
  if (bodyParserType === 'entity.too.large') {
    return problem(413, 'The JSON body is larger than 64 KiB.');
  }
  if (bodyParserType === 'entity.parse.failed') {
    return problem(400, 'The body is not valid JSON.', [
      { path: 'body', message: 'malformed JSON' },
    ]);
  }
  if (bodyParserType === 'encoding.unsupported' || bodyParserType === 'charset.unsupported') {
    return problem(415, 'Send the body as UTF-8 application/json.');
  }
  if (err instanceof OrmNotFoundError || err instanceof ScheduleNotFoundError) {
    return problem(404, 'The resource does not exist.');
  }
  if (err instanceof UniqueConstraintViolationException) {
    return problem(409, 'The resource already exists.');
  }
  if (isDatabaseUnavailable(err)) {
    return problem(503, DATABASE_UNAVAILABLE);
  }
  if (isTemporalUnavailable(err)) {
    return problem(503, 'Temporal is unreachable; try again shortly.');
  }
  return problem(500, 'The server failed to handle the request.');
}

function isValidatorError(err: unknown): boolean {
  const e = err as { status?: unknown; errors?: unknown } | null;
  return !!e && typeof e.status === 'number' && Array.isArray(e.errors);
}

export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const body = toProblem(err);
    const where = { method: req.method, url: req.originalUrl.split('?')[0] };
    if (body.status === 503) {
      // An outage is logged once by the circuit that found it; each request it fails is not an
      // error of ours (a fail-fast answer only at debug, a driver's own error as a warning).
      if (err instanceof AppError)
        logger.debug({ ...where, detail: body.detail }, 'dependency unavailable');
      else logger.warn({ err, ...where }, 'dependency unavailable');
    } else if (body.status >= 500) {
      logger.error({ err, ...where }, 'request failed');
    }
    sendProblem(res, body);
  };
}

export const notFoundHandler: RequestHandler = (_req, res) => {
  sendProblem(res, problem(404, 'No such route.'));
};

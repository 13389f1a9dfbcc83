/**
 * The errors the application throws on purpose. Each carries a stable `type` (the last segment of
 * the problem type an API client sees) and a detail meant for that client; none knows a status
 * code. The HTTP layer (src/api/error-handler.ts) alone decides what each becomes on the wire.
 */
export interface FieldError {
  path: string;
  message: string;
}

export type AppErrorType =
  | 'validation-error'
  | 'unauthorized'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'unprocessable'
  | 'rate-limited'
  | 'service-unavailable';

export abstract class AppError extends Error {
  abstract readonly type: AppErrorType;
  constructor(
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

/** The input breaks a rule; `errors` names each field and what is wrong with it. */
export class ValidationError extends AppError {
  override readonly name = 'ValidationError';
  readonly type = 'validation-error';
  constructor(detail: string, errors: FieldError[] = []) {
    super(detail, errors);
  }
}

/** The caller did not prove who it is. */
export class UnauthorizedError extends AppError {
  override readonly name = 'UnauthorizedError';
  readonly type = 'unauthorized';
  constructor(detail = 'A valid X-API-Key header is required.') {
    super(detail);
  }
}

/** The caller is known but may not do this (a read-only key asking to write, SPEC §14). */
export class ForbiddenError extends AppError {
  override readonly name = 'ForbiddenError';
  readonly type = 'forbidden';
}

/** The request clashes with the state of things (e.g. a request under way with its key). */
export class ConflictError extends AppError {
  override readonly name = 'ConflictError';
  readonly type = 'conflict';
}

/** Well-formed, but it cannot be done as asked (e.g. an Idempotency-Key reused for another body). */
export class UnprocessableError extends AppError {
  override readonly name = 'UnprocessableError';
  readonly type = 'unprocessable';
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  readonly type = 'not-found';
}

/** The caller used up its allowance; `detail` says when to come back. */
export class TooManyRequestsError extends AppError {
  override readonly name = 'TooManyRequestsError';
  readonly type = 'rate-limited';
}

/** A dependency (the database, Temporal) is down; nothing was changed. */
export class UpstreamUnavailableError extends AppError {
  override readonly name = 'UpstreamUnavailableError';
  readonly type = 'service-unavailable';
}

export const DATABASE_UNAVAILABLE = 'The database is unreachable; try again shortly.';
export const TEMPORAL_UNAVAILABLE =
  'Temporal is unreachable; nothing was changed. Try again shortly.';

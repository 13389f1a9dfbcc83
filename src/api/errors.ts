/**
 * Application errors carry an HTTP status and a stable problem `type` (RFC 9457). The error
 * middleware turns them, and the errors of the libraries below us, into problem documents.
 */
export interface FieldError {
  path: string;
  message: string;
}

export const PROBLEM_BASE = 'https://discord-task-scheduler.dev/problems';

/**
 * `Retry-After` of every 503: a dependency that is down is probed again about once a second, so
 * a client that waits this long sees it back soon after it is.
 */
export const RETRY_AFTER_SECONDS = 2;

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
  }
}

export class ValidationError extends AppError {
  override readonly name = 'ValidationError';
  constructor(detail: string, errors: FieldError[] = []) {
    super(400, 'validation-error', 'Invalid request', detail, errors);
  }
}

export class UnauthorizedError extends AppError {
  override readonly name = 'UnauthorizedError';
  constructor(detail = 'A valid X-API-Key header is required.') {
    super(401, 'unauthorized', 'Unauthorized', detail);
  }
}

export class NotFoundError extends AppError {
  override readonly name = 'NotFoundError';
  constructor(detail: string) {
    super(404, 'not-found', 'Not Found', detail);
  }
}

export class TooManyRequestsError extends AppError {
  override readonly name = 'TooManyRequestsError';
  constructor(detail: string) {
    super(429, 'rate-limited', 'Too Many Requests', detail);
  }
}

export class UpstreamUnavailableError extends AppError {
  override readonly name = 'UpstreamUnavailableError';
  constructor(detail: string) {
    super(503, 'service-unavailable', 'Service Unavailable', detail);
  }
}

export const DATABASE_UNAVAILABLE = 'The database is unreachable; try again shortly.';
export const TEMPORAL_UNAVAILABLE = 'Temporal is unreachable; nothing was changed. Try again shortly.';

import { ScheduleNotFoundError } from '@temporalio/client';
import { NotFoundError as OrmNotFoundError } from '@mikro-orm/core';
import { toProblem } from '../../src/api/error-handler';
import { NotFoundError, UpstreamUnavailableError, ValidationError } from '../../src/errors';

describe('toProblem', () => {
  it('when an AppError is thrown, then its status, type and field errors are kept', () => {
    const problem = toProblem(
      new ValidationError('bad', [{ path: 'body.name', message: 'too long' }]),
    );
    expect(problem).toEqual({
      type: expect.stringMatching(/\/validation-error$/),
      title: 'Invalid request',
      status: 400,
      detail: 'bad',
      errors: [{ path: 'body.name', message: 'too long' }],
    });
    expect(toProblem(new NotFoundError('no task')).status).toBe(404);
    expect(toProblem(new UpstreamUnavailableError('down')).status).toBe(503);
  });

  it('when the OpenAPI validator reports errors, then each becomes a field error with a dotted path', () => {
    const problem = toProblem({
      status: 400,
      message: 'request/body must have required property name',
      errors: [
        { path: '/body/name', message: "must have required property 'name'" },
        { path: '/query/limit', message: 'must be <= 100' },
      ],
    });
    expect(problem.status).toBe(400);
    expect(problem.errors).toEqual([
      { path: 'body.name', message: "must have required property 'name'" },
      { path: 'query.limit', message: 'must be <= 100' },
    ]);
  });

  it('when body-parser rejects a body, then 413 and 400 problems follow', () => {
    expect(toProblem({ type: 'entity.too.large', status: 413 }).status).toBe(413);
    expect(toProblem({ type: 'entity.parse.failed', status: 400 })).toMatchObject({
      status: 400,
      errors: [{ path: 'body', message: 'malformed JSON' }],
    });
  });

  it('when a library says a thing is missing, then 404', () => {
    expect(toProblem(new ScheduleNotFoundError('gone', 'task-1')).status).toBe(404);
    expect(toProblem(new OrmNotFoundError('gone')).status).toBe(404);
  });

  it('when Temporal is unavailable, then 503', () => {
    const grpcUnavailable = Object.assign(new Error('14 UNAVAILABLE'), {
      code: 14,
      details: 'x',
      metadata: {},
    });
    expect(toProblem(grpcUnavailable).status).toBe(503);
  });

  it('when an unknown error is thrown, then a generic 500 that leaks nothing', () => {
    const problem = toProblem(new Error('secret https://discord.com/api/webhooks/1/token'));
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain('token');
  });
});

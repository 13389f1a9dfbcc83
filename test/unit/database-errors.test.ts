import { DriverException, UniqueConstraintViolationException } from '@mikro-orm/core';
import express from 'express';
import request from 'supertest';
import pino from 'pino';
import { createErrorHandler, toProblem } from '../../src/api/error-handler';
import { isDatabaseUnavailable } from '../../src/db/orm';

/** What pg, knex and MikroORM throw when the database is down, as they build them. */
const pgError = (message: string, fields: Record<string, unknown>) =>
  Object.assign(new Error(message), fields);
const OUTAGES: [string, unknown][] = [
  [
    'connection refused',
    pgError('connect ECONNREFUSED 127.0.0.1:54329', {
      code: 'ECONNREFUSED',
      errno: -111,
      syscall: 'connect',
    }),
  ],
  [
    'refused on every address',
    new AggregateError(
      [pgError('connect ECONNREFUSED ::1:5432', { code: 'ECONNREFUSED' })],
      'connect failed',
    ),
  ],
  ['connection reset', pgError('read ECONNRESET', { code: 'ECONNRESET' })],
  ['connection terminated', new Error('Connection terminated unexpectedly')],
  ['connect timeout', new Error('Connection terminated due to connection timeout')],
  [
    'pool acquire timeout',
    Object.assign(
      new Error(
        'Knex: Timeout acquiring a connection. The pool is probably full. Are you missing a .transacting(trx) call?',
      ),
      { name: 'KnexTimeoutError' },
    ),
  ],
  [
    'admin shutdown (57P01)',
    pgError('terminating connection due to administrator command', {
      code: '57P01',
      severity: 'FATAL',
    }),
  ],
  [
    'shutting down (57P03)',
    pgError('the database system is shutting down', { code: '57P03', severity: 'FATAL' }),
  ],
  ['starting up (57P03)', pgError('the database system is starting up', { code: '57P03' })],
  [
    'client not queryable',
    new Error('Client has encountered a connection error and is not queryable'),
  ],
  [
    'wrapped by MikroORM',
    new DriverException(pgError('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' })),
  ],
  [
    'as a cause',
    new Error('load failed', { cause: pgError('connect ECONNREFUSED', { code: 'ECONNREFUSED' }) }),
  ],
];

describe('database errors', () => {
  it.each(OUTAGES)(
    'when the database fails with %s, then it is an outage and a 503',
    (_name, error) => {
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(toProblem(error)).toMatchObject({
        status: 503,
        detail: expect.stringMatching(/database is unreachable/),
      });
    },
  );

  it('when a statement is rejected, then it is not an outage', () => {
    expect(
      isDatabaseUnavailable(pgError('syntax error at or near "selec"', { code: '42601' })),
    ).toBe(false);
    expect(isDatabaseUnavailable(pgError('duplicate key value', { code: '23505' }))).toBe(false);
    expect(
      toProblem(
        new UniqueConstraintViolationException(pgError('duplicate key value', { code: '23505' })),
      ),
    ).toMatchObject({ status: 409 });
    expect(toProblem(pgError('syntax error', { code: '42601' }))).toMatchObject({ status: 500 });
  });

  it('when a request fails because a dependency is down, then 503 problem+json with Retry-After in seconds', async () => {
    const app = express();
    app.get('/db', () => {
      throw OUTAGES[0]![1];
    });
    app.get('/temporal', () => {
      throw Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
        code: 14,
        details: 'No connection established',
        metadata: {},
      });
    });
    app.use(createErrorHandler(pino({ level: 'silent' })));

    for (const path of ['/db', '/temporal']) {
      const res = await request(app).get(path);
      expect(res.status).toBe(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      expect(res.body).toMatchObject({ status: 503, title: 'Service Unavailable' });
    }
  });
});

import { EventEmitter } from 'node:events';
import { DriverException } from '@mikro-orm/core';
import {
  createConnectionRetirement,
  isDeadConnection,
  markDead,
  type PooledConnection,
  retryOnDeadConnection,
} from '../../src/db/dead-connections';

/** An error as pg builds it: a message and the fields it copies from the server or the socket. */
const pgError = (message: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(message), fields);

const DEAD: [string, unknown][] = [
  ['a reset socket', pgError('read ECONNRESET', { code: 'ECONNRESET', syscall: 'read' })],
  ['a write to a closed socket', pgError('write EPIPE', { code: 'EPIPE' })],
  [
    'the postmaster killed under the session (57P01)',
    pgError('terminating connection due to unexpected postmaster exit', {
      code: '57P01',
      severity: 'FATAL',
    }),
  ],
  [
    'a restart or pg_terminate_backend (57P01)',
    pgError('terminating connection due to administrator command', { code: '57P01' }),
  ],
  [
    'another backend crashed (57P02)',
    pgError('terminating connection because of crash of another server process', {
      code: '57P02',
    }),
  ],
  [
    'an idle session timed out (57P05)',
    pgError('terminating connection due to idle-session timeout', { code: '57P05' }),
  ],
  ['a socket closed under a query', new Error('Connection terminated unexpectedly')],
  [
    'a client used after its connection failed',
    new Error('Client has encountered a connection error and is not queryable'),
  ],
  ['wrapped by MikroORM', new DriverException(pgError('read ECONNRESET', { code: 'ECONNRESET' }))],
  [
    'as a cause',
    new Error('read failed', { cause: pgError('read ECONNRESET', { code: 'ECONNRESET' }) }),
  ],
];

const NOT_DEAD: [string, unknown][] = [
  [
    'a refused connect (server down)',
    pgError('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED' }),
  ],
  ['a connect timeout', new Error('Connection terminated due to connection timeout')],
  [
    'a server starting up (57P03)',
    pgError('the database system is starting up', { code: '57P03' }),
  ],
  [
    'a pool acquire timeout',
    new Error('Knex: Timeout acquiring a connection. The pool is probably full.'),
  ],
  ['a unique violation', pgError('duplicate key value', { code: '23505' })],
  ['a syntax error', pgError('syntax error at or near "selec"', { code: '42601' })],
  ['not an error', 'ECONNRESET'],
  ['nothing', undefined],
];

describe('dead connection errors', () => {
  it.each(DEAD)('when a query fails with %s, then the connection is dead', (_name, error) => {
    expect(isDeadConnection(error)).toBe(true);
  });

  it.each(NOT_DEAD)(
    'when a query fails with %s, then it is not a dead connection (a new one would not help)',
    (_name, error) => {
      expect(isDeadConnection(error)).toBe(false);
    },
  );
});

describe('retryOnDeadConnection', () => {
  const reset = () => pgError('read ECONNRESET', { code: 'ECONNRESET' });

  it('when a read fails on a dead connection, then it runs once more and that answer is returned', async () => {
    const read = jest.fn().mockRejectedValueOnce(reset()).mockResolvedValueOnce('rows');
    await expect(retryOnDeadConnection(read)).resolves.toBe('rows');
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('when the second try fails too, then its error is thrown after exactly two tries', async () => {
    const refused = pgError('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
    const read = jest.fn().mockRejectedValueOnce(reset()).mockRejectedValueOnce(refused);
    await expect(retryOnDeadConnection(read)).rejects.toBe(refused);
    expect(read).toHaveBeenCalledTimes(2);
  });

  it.each(NOT_DEAD.slice(0, 6))(
    'when a read fails with %s, then it is not tried again',
    async (_name, error) => {
      const read = jest.fn().mockRejectedValue(error);
      await expect(retryOnDeadConnection(read)).rejects.toBe(error);
      expect(read).toHaveBeenCalledTimes(1);
    },
  );

  it('when the circuit gave the call up (signal aborted), then it is not tried again', async () => {
    const controller = new AbortController();
    const read = jest.fn(async () => {
      controller.abort();
      throw reset();
    });
    await expect(retryOnDeadConnection(read, controller.signal)).rejects.toMatchObject({
      code: 'ECONNRESET',
    });
    expect(read).toHaveBeenCalledTimes(1);
  });
});

describe('connection retirement (the pool hooks)', () => {
  type Fake = PooledConnection & EventEmitter;
  const fakeConnection = () => new EventEmitter() as Fake;

  function pool() {
    const hooks = createConnectionRetirement();
    const open = () => {
      const connection = fakeConnection();
      // knex's own listener, without which an 'error' event would throw.
      connection.on('error', () => undefined);
      hooks.afterCreate(connection, (error) => {
        if (error) throw error;
      });
      return connection;
    };
    return { hooks, open };
  }

  it('when a query finds a connection dead, then it and every connection opened before it are refused at checkout, and those opened after are handed out', () => {
    const { hooks, open } = pool();
    const [a, b, c] = [open(), open(), open()];
    markDead(b, new Error('Connection terminated unexpectedly'));
    const d = open();

    expect(b.__knex__disposed).toBeInstanceOf(Error);
    expect([a, b, c, d].map((connection) => hooks.validate(connection))).toEqual([
      false,
      false,
      false,
      true,
    ]);
  });

  it('when an idle connection reports that its server went away (pg error event), then its peers are retired too', () => {
    const { hooks, open } = pool();
    const [a, b] = [open(), open()];
    a.emit(
      'error',
      pgError('terminating connection due to unexpected postmaster exit', { code: '57P01' }),
    );
    expect([hooks.validate(a), hooks.validate(b), hooks.validate(open())]).toEqual([
      false,
      false,
      true,
    ]);
  });

  it('when a connection of a retired generation is found dead later, then the connections opened since stay', () => {
    const { hooks, open } = pool();
    const [old1, old2] = [open(), open()];
    markDead(old1, new Error('Connection terminated unexpectedly'));
    const fresh = open();
    markDead(old2, new Error('Connection terminated unexpectedly'));
    expect(hooks.validate(fresh)).toBe(true);
  });

  it('when a pooled connection reports an error that is not a dead connection, then its peers stay', () => {
    const { hooks, open } = pool();
    const [a, b] = [open(), open()];
    a.emit('error', new Error('Received unexpected rowDescription message from backend.'));
    expect(hooks.validate(b)).toBe(true);
  });
});

/**
 * Pooled connections whose server went away (PostgreSQL killed or restarted, a session ended by
 * the server, a reset on the network path). knex already drops a connection once pg has reported
 * its death (an 'error' or 'end' event); what this adds closes the gaps around that:
 *
 * - a connection found dead by a query is marked so before it goes back to the pool, not only
 *   once its socket's 'end' arrives (a waiting query could be handed it in between);
 * - a connection found dead retires every connection of the pool opened before it: they went to
 *   the same server, and behind a proxy, NAT or failover their death only shows when they are
 *   used, one failed request each;
 * - a read that met a dead connection runs once more, on a connection opened after (see
 *   retryOnDeadConnection). Writes are never repeated: the statement may have committed before
 *   the connection died.
 */

/** Socket errors and SQLSTATEs that end the session in use, whether or not the server is up. */
const DEAD_CONNECTION_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '57P01', // admin_shutdown: shutdown, restart, pg_terminate_backend, postmaster killed
  '57P02', // crash_shutdown: another backend crashed and the server is resetting
  '57P05', // idle_session_timeout: the server closed an idle pooled session
]);

/** What pg says (without a code) about a connection that died under it or before it was used. */
const DEAD_CONNECTION_MESSAGES =
  /Connection terminated unexpectedly|Connection ended unexpectedly|is not queryable|terminating connection due to|server closed the connection unexpectedly/i;

/**
 * True when `error` says the connection in use is gone (reset, closed, its session ended by the
 * server), so that a new connection may well succeed. False for what says the server cannot be
 * reached at all (refused, timed out, starting up): there a new connection fails too, and the
 * caller must fail fast instead (SPEC §5). Looks through `cause` and AggregateErrors.
 */
export function isDeadConnection(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string' && DEAD_CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && DEAD_CONNECTION_MESSAGES.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDeadConnection(inner, depth + 1))) {
    return true;
  }
  return isDeadConnection(e.cause, depth + 1);
}

/**
 * Runs `read` and, when it failed on a dead connection, once more: the failed connection retired
 * its pool's older ones (markDead), so the second try runs on a connection opened since. Not when
 * `signal` is aborted (the database circuit gave the call up: the client has its 503). A database
 * that is really down fails the second try at once (refused) or within the circuit's deadline.
 */
export async function retryOnDeadConnection<T>(
  read: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isDeadConnection(error) || signal?.aborted) throw error;
    return read();
  }
}

/** A pg client as the pool holds it (only what is used here). */
export interface PooledConnection {
  on(event: 'error', listener: (error: unknown) => void): unknown;
  /** knex's own mark: a connection that has it is destroyed instead of handed out. */
  __knex__disposed?: unknown;
}

const GENERATION = Symbol('connection generation');
const RETIRE_PEERS = Symbol('retire older connections');

interface Stamped extends PooledConnection {
  [GENERATION]?: number;
  [RETIRE_PEERS]?: () => void;
}

/**
 * Marks `connection` (found dead by a query on it) so that the pool destroys it instead of
 * handing it out again, and retires the pool's connections opened before it.
 */
export function markDead(connection: PooledConnection, error: unknown): void {
  const stamped = connection as Stamped;
  stamped.__knex__disposed ??= error;
  stamped[RETIRE_PEERS]?.();
}

export interface ConnectionRetirement {
  /** knex's pool `afterCreate`: stamps the connection with the pool's generation. */
  afterCreate(
    connection: PooledConnection,
    done: (error: Error | null, connection: PooledConnection) => void,
  ): void;
  /** knex's pool `validate` (on every checkout): false for a connection of a retired generation. */
  validate(connection: PooledConnection): boolean;
}

/**
 * Generations of a pool's connections: each connection belongs to the generation current when it
 * was opened; one of the current generation found dead (by a query, or by pg's 'error' event on
 * an idle connection) starts a new generation, and older connections are destroyed at their next
 * checkout. A connection of an older generation found dead later says nothing about the newer
 * ones, which stay.
 */
export function createConnectionRetirement(): ConnectionRetirement {
  let generation = 0;
  return {
    afterCreate(connection, done) {
      const stamped = connection as Stamped;
      const born = generation;
      stamped[GENERATION] = born;
      stamped[RETIRE_PEERS] = () => {
        if (born === generation) generation += 1;
      };
      connection.on('error', (error) => {
        if (isDeadConnection(error)) markDead(connection, error);
      });
      done(null, connection);
    },
    validate(connection) {
      return ((connection as Stamped)[GENERATION] ?? generation) === generation;
    },
  };
}

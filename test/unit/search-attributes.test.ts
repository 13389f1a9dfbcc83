import { Metadata, status } from '@grpc/grpc-js';
import type { Connection } from '@temporalio/client';
import {
  ensureTaskSearchAttributes,
  registerTaskSearchAttributes,
  SearchAttributesRefusedError,
} from '../../src/temporal/search-attributes';
import { capturingLogger } from '../helpers/capturing-logger';

/** IndexedValueType of Temporal's API: 1 Text, 2 Keyword. */
const TEXT = 1;
const KEYWORD = 2;

/** A gRPC error as the client surfaces it. */
function grpcError(code: status, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

/**
 * A connection whose operator and workflow services answer from `server`: the custom attributes
 * it holds, and how it answers each call (an error to throw, or nothing).
 */
function fakeConnection(server: {
  attributes: Record<string, number>;
  listError?: Error;
  addError?: Error;
  /** Queries by the attributes are refused this many times after they are added. */
  unknownForQueries?: number;
}) {
  const calls = { add: [] as Record<string, number>[], queries: 0 };
  let unknown = server.unknownForQueries ?? 0;
  const connection = {
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
    operatorService: {
      async listSearchAttributes() {
        if (server.listError) throw server.listError;
        return { customAttributes: { ...server.attributes } };
      },
      async addSearchAttributes(request: { searchAttributes: Record<string, number> }) {
        calls.add.push(request.searchAttributes);
        if (server.addError) throw server.addError;
        Object.assign(server.attributes, request.searchAttributes);
        return {};
      },
    },
    workflowService: {
      async listWorkflowExecutions() {
        calls.queries += 1;
        if (unknown-- > 0) throw grpcError(status.INVALID_ARGUMENT, 'invalid search attribute');
        return { executions: [] };
      },
    },
  } as unknown as Connection;
  return { connection, calls };
}

describe('registering the task search attributes (SPEC §15)', () => {
  it('when the namespace has both, then nothing is added', async () => {
    const { connection, calls } = fakeConnection({
      attributes: { TaskId: KEYWORD, TaskName: KEYWORD, Other: TEXT },
    });
    const outcome = await ensureTaskSearchAttributes({ connection, namespace: 'default' });
    expect(outcome.added).toEqual([]);
    expect(calls.add).toEqual([]);
  });

  it('when one is missing, then only that one is added as Keyword, and it returns once queries accept it', async () => {
    const { connection, calls } = fakeConnection({
      attributes: { TaskId: KEYWORD },
      unknownForQueries: 2,
    });
    const outcome = await ensureTaskSearchAttributes({ connection, namespace: 'default' });
    expect(outcome.added).toEqual(['TaskName']);
    expect(calls.add).toEqual([{ TaskName: KEYWORD }]);
    expect(calls.queries).toBe(3);
  });

  it('when another API added them meanwhile (ALREADY_EXISTS), then it is no failure', async () => {
    const { connection } = fakeConnection({
      attributes: {},
      addError: grpcError(status.ALREADY_EXISTS, 'already exists'),
    });
    await expect(
      ensureTaskSearchAttributes({ connection, namespace: 'default' }),
    ).resolves.toMatchObject({ added: ['TaskId', 'TaskName'] });
  });

  it('when one is registered with another type, then it fails saying which and what it is', async () => {
    const { connection, calls } = fakeConnection({ attributes: { TaskId: TEXT } });
    await expect(ensureTaskSearchAttributes({ connection, namespace: 'default' })).rejects.toThrow(
      'search attribute TaskId of namespace "default" is registered as TEXT, not Keyword',
    );
    expect(calls.add).toEqual([]);
  });

  it('when Temporal refuses to add them, then one error line says so and what to run, and the start is told not to reconcile', async () => {
    const { connection } = fakeConnection({
      attributes: {},
      addError: grpcError(status.PERMISSION_DENIED, 'Request unauthorized.'),
    });
    await expect(
      ensureTaskSearchAttributes({ connection, namespace: 'prod' }),
    ).rejects.toBeInstanceOf(SearchAttributesRefusedError);

    const { logger, lines } = capturingLogger();
    expect(await registerTaskSearchAttributes({ connection, namespace: 'prod', logger })).toBe(
      false,
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 50,
      msg:
        'Temporal refused to register the search attributes TaskId and TaskName on namespace "prod" (PERMISSION_DENIED); ' +
        'until an operator does (temporal operator search-attribute create --namespace prod --name TaskId --name TaskName --type Keyword), ' +
        'Temporal rejects every task schedule and manual run',
    });
  });

  it('when Temporal refuses even to list them, then a warning says to check, and start-up goes on', async () => {
    const { connection, calls } = fakeConnection({
      attributes: {},
      listError: grpcError(status.PERMISSION_DENIED, 'Request unauthorized.'),
    });
    const { logger, lines } = capturingLogger();
    expect(await registerTaskSearchAttributes({ connection, namespace: 'prod', logger })).toBe(
      true,
    );
    expect(calls.add).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40 });
    expect(String(lines[0]!.msg)).toContain(
      'check that TaskId and TaskName (Keyword) are registered',
    );
  });

  it('when they were added, then one info line names them; when they were there, nothing is logged', async () => {
    const { logger, lines } = capturingLogger();
    const missing = fakeConnection({ attributes: {} });
    expect(
      await registerTaskSearchAttributes({
        connection: missing.connection,
        namespace: 'default',
        logger,
      }),
    ).toBe(true);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'registered the task search attributes',
        added: ['TaskId', 'TaskName'],
      }),
    ]);
    await registerTaskSearchAttributes({
      connection: missing.connection,
      namespace: 'default',
      logger,
    });
    expect(lines).toHaveLength(1);
  });
});

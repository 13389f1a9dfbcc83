import { status as grpcStatus } from '@grpc/grpc-js';
import { type Connection, isGrpcServiceError } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
// The SDK's own coder between its type names and the operator service's IndexedValueType (an
// internal path, pinned exactly in package.json like common/lib/time).
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import type { Logger } from '../logger';
import { TASK_SEARCH_ATTRIBUTES } from './execution-metadata';

/** Keyword in the operator service's terms (IndexedValueType). */
const KEYWORD = encodeSearchAttributeIndexedValueType(SearchAttributeType.KEYWORD)!;
/** The type names of the operator service's IndexedValueType, for a message. */
const TYPE_NAMES = Object.fromEntries(
  Object.values(SearchAttributeType).map((type) => [
    encodeSearchAttributeIndexedValueType(type),
    type,
  ]),
);

/** Temporal would not let us register the attributes: an operator has to (SPEC §15). */
export class SearchAttributesRefusedError extends Error {
  constructor(
    message: string,
    /** The attributes still missing, or all of ours when Temporal would not even list them. */
    readonly missing: readonly string[],
    /** Temporal refused to list them: they may well exist. */
    readonly listRefused = false,
  ) {
    super(message);
    this.name = 'SearchAttributesRefusedError';
  }
}

export interface SearchAttributesOutcome {
  /** The attributes this call registered; empty when every one was there. */
  added: string[];
  /** How long it took until they answered queries, in ms. */
  durationMs: number;
}

const CALL_DEADLINE_MS = 5_000;
const USABLE_WITHIN_MS = 30_000;

/**
 * Registers the task search attributes (TaskId and TaskName, Keyword) on the namespace unless they
 * are there (SPEC §15): a no-op on a server that has them (the embedded dev server registers them
 * at start, deploy/temporal/create-namespace.sh on the compose files' server), so every API start
 * may call it, and two APIs starting together agree. Once added, it waits until a visibility
 * query by them is accepted, since a start with an attribute the frontend does not know yet is
 * refused. Throws SearchAttributesRefusedError when Temporal refuses (a Temporal Cloud namespace,
 * a server with authorization) and an Error when one exists with another type.
 */
export async function ensureTaskSearchAttributes(deps: {
  connection: Connection;
  namespace: string;
}): Promise<SearchAttributesOutcome> {
  const { connection, namespace } = deps;
  const started = Date.now();
  const call = <T>(fn: () => Promise<T>) =>
    connection.withDeadline(Date.now() + CALL_DEADLINE_MS, fn);
  const names = TASK_SEARCH_ATTRIBUTES.map((a) => a.name);

  const listed = async () => {
    try {
      const { customAttributes } = await call(() =>
        connection.operatorService.listSearchAttributes({ namespace }),
      );
      return customAttributes ?? {};
    } catch (error) {
      if (refusal(error)) {
        throw new SearchAttributesRefusedError(
          `Temporal refused to list the search attributes of namespace "${namespace}" (${refusal(error)}); ` +
            `check that ${names.join(' and ')} (Keyword) are registered: ${registerCommand(namespace)}`,
          names,
          true,
        );
      }
      throw error;
    }
  };

  const existing = await listed();
  const missing: string[] = [];
  for (const { name } of TASK_SEARCH_ATTRIBUTES) {
    const type = existing[name];
    if (type === undefined || type === null) missing.push(name);
    else if (type !== KEYWORD) {
      throw new Error(
        `search attribute ${name} of namespace "${namespace}" is registered as ${TYPE_NAMES[type] ?? type}, ` +
          'not Keyword: remove it or register the task attributes under a namespace of their own',
      );
    }
  }
  if (missing.length === 0) return { added: [], durationMs: Date.now() - started };

  try {
    await call(() =>
      connection.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])),
      }),
    );
  } catch (error) {
    const refused = refusal(error);
    if (refused) {
      throw new SearchAttributesRefusedError(
        `Temporal refused to register the search attributes ${missing.join(' and ')} on namespace "${namespace}" (${refused}); ` +
          `until an operator does (${registerCommand(namespace)}), Temporal rejects every task schedule and manual run`,
        missing,
      );
    }
    // Another API registered them meanwhile: the list below says whether they are there now.
    if (!(isGrpcServiceError(error) && error.code === grpcStatus.ALREADY_EXISTS)) throw error;
  }

  await waitUntilUsable({ connection, namespace, call, names });
  return { added: missing, durationMs: Date.now() - started };
}

/**
 * ensureTaskSearchAttributes at a process's start, said in the log: what it added, or one error
 * line when Temporal refused. False when the attributes are surely missing (Temporal refused to
 * add them), so that work which can only fail without them (reconciliation) is not started.
 */
export async function registerTaskSearchAttributes(deps: {
  connection: Connection;
  namespace: string;
  logger: Logger;
}): Promise<boolean> {
  const { logger, namespace } = deps;
  try {
    const { added, durationMs } = await ensureTaskSearchAttributes(deps);
    if (added.length > 0) {
      logger.info({ namespace, added, durationMs }, 'registered the task search attributes');
    }
    return true;
  } catch (error) {
    if (error instanceof SearchAttributesRefusedError) {
      if (error.listRefused) {
        logger.warn({ namespace }, error.message);
        return true;
      }
      logger.error({ namespace, missing: error.missing }, error.message);
      return false;
    }
    logger.error(
      { err: error, namespace },
      'could not check the task search attributes (TaskId, TaskName); the next start checks again',
    );
    return true;
  }
}

/** Until a query by each attribute is accepted (the frontend knows them), within 30 s. */
async function waitUntilUsable(w: {
  connection: Connection;
  namespace: string;
  call: <T>(fn: () => Promise<T>) => Promise<T>;
  names: string[];
}): Promise<void> {
  const deadline = Date.now() + USABLE_WITHIN_MS;
  const query = w.names.map((name) => `${name} = ""`).join(' AND ');
  for (;;) {
    try {
      await w.call(() =>
        w.connection.workflowService.listWorkflowExecutions({
          namespace: w.namespace,
          pageSize: 1,
          query,
        }),
      );
      return;
    } catch (error) {
      const unknownYet = isGrpcServiceError(error) && error.code === grpcStatus.INVALID_ARGUMENT;
      if (!unknownYet || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** The gRPC status of a refusal (no right to, or no such operation here), else undefined. */
function refusal(error: unknown): string | undefined {
  if (!isGrpcServiceError(error)) return undefined;
  if (error.code === grpcStatus.PERMISSION_DENIED) return 'PERMISSION_DENIED';
  if (error.code === grpcStatus.UNIMPLEMENTED) return 'UNIMPLEMENTED';
  if (error.code === grpcStatus.UNAUTHENTICATED) return 'UNAUTHENTICATED';
  return undefined;
}

/** The command an operator runs to register them by hand. */
export function registerCommand(namespace: string): string {
  const names = TASK_SEARCH_ATTRIBUTES.map(({ name }) => `--name ${name}`).join(' ');
  return `temporal operator search-attribute create --namespace ${namespace} ${names} --type Keyword`;
}

/** The dev server's flags that register them when it creates its state (`server start-dev`). */
export function devServerSearchAttributeFlags(): string[] {
  return TASK_SEARCH_ATTRIBUTES.flatMap(({ name, type }) => [
    '--search-attribute',
    `${name}=${type}`,
  ]);
}

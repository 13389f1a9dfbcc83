import { Client, Connection, isGrpcServiceError } from '@temporalio/client';

export interface TemporalClientHandle {
  readonly connection: Connection;
  readonly client: Client;
  close(): Promise<void>;
}

/**
 * A lazy connection: the API starts (and answers /health with temporal "down") even when
 * Temporal is not reachable yet; calls fail fast with UNAVAILABLE until it is.
 */
export function createTemporalClient(options: {
  address: string;
  namespace: string;
}): TemporalClientHandle {
  const connection = Connection.lazy({
    address: options.address,
    // gRPC backs off up to 2 minutes between reconnects to a server that went away; a Temporal
    // that is back must be used again within seconds (the API's circuit probes once a second).
    channelArgs: {
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
  });
  const client = new Client({ connection, namespace: options.namespace });
  return {
    connection,
    client,
    close: () => connection.close(),
  };
}

/** Resolves when the Temporal frontend answers, rejects after `timeoutMs`. */
export async function pingTemporal(connection: Connection, timeoutMs: number): Promise<void> {
  await connection.withDeadline(Date.now() + timeoutMs, () =>
    connection.workflowService.getSystemInfo({}),
  );
}

const UNREACHABLE = new Set([
  4, // DEADLINE_EXCEEDED: no answer in time
  14, // UNAVAILABLE: no connection
]);

/** True when `error` (or what it wraps) says Temporal could not be reached or did not answer. */
export function isTemporalUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) return false;
  if (isGrpcServiceError(error)) return UNREACHABLE.has(error.code);
  return isTemporalUnavailable((error as { cause?: unknown }).cause, depth + 1);
}

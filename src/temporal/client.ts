import { Client, Connection } from '@temporalio/client';

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
  const connection = Connection.lazy({ address: options.address });
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

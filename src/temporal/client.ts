import { InterceptingCall, Metadata, status as grpcStatus, type Interceptor } from '@grpc/grpc-js';
import {
  Client,
  Connection,
  defaultGrpcRetryOptions,
  isGrpcServiceError,
  makeGrpcRetryInterceptor,
} from '@temporalio/client';

export interface TemporalClientHandle {
  readonly connection: Connection;
  readonly client: Client;
  close(): Promise<void>;
}

/**
 * The longest deadline of a call we make (schedule writes, trigger: 5 s); close() waits at most
 * this long for calls still in flight.
 */
const CLOSE_GRACE_MS = 6_000;

/**
 * A lazy connection: the API starts (and answers /health with temporal "down") even when
 * Temporal is not reachable yet; calls fail fast with UNAVAILABLE until it is.
 */
export function createTemporalClient(options: {
  address: string;
  namespace: string;
  /** How long close() waits for calls in flight (default {@link CLOSE_GRACE_MS}). */
  closeGraceMs?: number;
}): TemporalClientHandle {
  const calls = trackCalls();
  const guard = closedChannelGuard();
  const connection = Connection.lazy({
    address: options.address,
    // gRPC backs off up to 2 minutes between reconnects to a server that went away; a Temporal
    // that is back must be used again within seconds (the API's circuit probes once a second).
    channelArgs: {
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
    // The SDK's default retry interceptor, with a count of calls in flight around it and the
    // closed-channel guard under it (so each retry passes through the guard).
    interceptors: [
      calls.interceptor,
      makeGrpcRetryInterceptor(defaultGrpcRetryOptions()),
      guard.interceptor,
    ],
  });
  const client = new Client({ connection, namespace: options.namespace });
  return {
    connection,
    client,
    // A call can outlive its request (a health probe or a write given up on after a second runs
    // on to its deadline, or retries UNAVAILABLE for up to 20 s). Calls get the grace to finish;
    // one still waiting to retry then ends CANCELLED through the guard.
    close: async () => {
      await calls.idle(options.closeGraceMs ?? CLOSE_GRACE_MS);
      guard.close();
      await connection.close();
    },
  };
}

/**
 * The SDK's retry interceptor retries from a timer that `Connection.close()` does not clear; when
 * it fires on a closed channel, grpc-js throws "Channel has been shut down" inside the timer, an
 * uncaught exception that ends the process (a shutdown while Temporal is unreachable, or a test
 * file after the one that closed). Placed under the retry interceptor, the guard turns every
 * attempt made after close into a call that ends CANCELLED, which is not retried.
 */
export function closedChannelGuard(): { interceptor: Interceptor; close(): void } {
  let closed = false;
  const interceptor: Interceptor = (options, nextCall) => {
    if (!closed) return new InterceptingCall(nextCall(options));
    return new InterceptingCall({
      start(_metadata, listener) {
        // As grpc-js ends a unary call without an answer: no message (null), then the status.
        process.nextTick(() => {
          listener?.onReceiveMessage?.(null);
          listener?.onReceiveStatus?.({
            code: grpcStatus.CANCELLED,
            details: 'the Temporal connection was closed',
            metadata: new Metadata(),
          });
        });
      },
      cancelWithStatus: () => undefined,
      getPeer: () => '',
      sendMessageWithContext: () => undefined,
      sendMessage: () => undefined,
      startRead: () => undefined,
      halfClose: () => undefined,
      getAuthContext: () => null,
    });
  };
  return {
    interceptor,
    close: () => {
      closed = true;
    },
  };
}

/** Counts the calls in flight on a connection (a call and its retries count once). */
function trackCalls(): { interceptor: Interceptor; idle(timeoutMs: number): Promise<void> } {
  let inFlight = 0;
  let waiters: (() => void)[] = [];
  const interceptor: Interceptor = (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        let ended = false;
        inFlight += 1;
        const end = () => {
          if (ended) return;
          ended = true;
          inFlight -= 1;
          if (inFlight === 0) for (const wake of waiters.splice(0)) wake();
        };
        try {
          next(metadata, {
            onReceiveStatus(status, passOn) {
              end();
              passOn(status);
            },
          });
        } catch (error) {
          end();
          throw error;
        }
      },
    });
  return {
    interceptor,
    async idle(timeoutMs) {
      if (inFlight === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        timer = setTimeout(() => {
          waiters = waiters.filter((wake) => wake !== resolve);
          resolve();
        }, timeoutMs);
      });
      clearTimeout(timer);
    },
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

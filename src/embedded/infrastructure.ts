import path from 'node:path';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { startEmbeddedPostgres } from './postgres';
import { type ServiceProcess, supervise } from './supervisor';
import { ensureTemporalCli } from './temporal-cli';
import { startTemporalDevServer } from './temporal-dev-server';

export interface Infrastructure {
  readonly databaseUrl: string;
  /** Empty when Temporal was not needed (migrations only) and TEMPORAL_ADDRESS is unset. */
  readonly temporalAddress: string;
  /** Set when the Temporal dev server (and its Web UI) was started here. */
  readonly temporalUiUrl?: string;
  readonly embedded: { postgres: boolean; temporal: boolean };
  /** Stops what was started here, Temporal first, PostgreSQL last. */
  stop(): Promise<void>;
}

/** Something started here that can be ended at once (for an exit that cannot wait). */
export interface Killable {
  kill(): void;
}

export interface InfrastructureOptions {
  /** Whether the Temporal dev server is needed (not for migrations). Default true. */
  temporal?: boolean;
  /**
   * Supervise the embedded services (SPEC §2): a service that dies is logged at error level and
   * started again, with backoff, on the same port and data; `onServiceLost` is called (once) when
   * one cannot be brought back. Without it, nothing watches them (the CLIs).
   */
  onServiceLost?: (reason: string) => void;
  /**
   * A stop was requested (Ctrl-C): a start under way is stopped and rejects, and from then on a
   * service that exits is not restarted (a terminal's Ctrl-C reaches the children too, and their
   * exit is then no death).
   */
  signal?: AbortSignal;
  /** Each service is added as soon as it runs (and removed once stopped), for a last-resort kill. */
  running?: Set<Killable>;
}

/**
 * The embedded default (SPEC §2): PostgreSQL when DATABASE_URL is unset and the Temporal dev
 * server when TEMPORAL_ADDRESS is unset, both keeping their data under DATA_DIR. With both set,
 * nothing is started.
 */
export async function provideInfrastructure(
  config: Config,
  logger: Logger,
  options: InfrastructureOptions = {},
): Promise<Infrastructure> {
  const { signal, running } = options;
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.splice(0).reverse()) {
      await fn().catch((error: unknown) =>
        logger.error({ err: error }, 'failed to stop a service'),
      );
    }
  };
  /** Supervises `first` (when asked to) and registers its stop. */
  const adopt = <T extends ServiceProcess>(name: string, first: T, restart: () => Promise<T>) => {
    const onServiceLost = options.onServiceLost;
    const service: Killable & { stop(): Promise<void>; markStopping(): void } = onServiceLost
      ? supervise({ name, first, restart, logger, onGiveUp: onServiceLost })
      : { stop: () => first.stop(), kill: () => first.kill(), markStopping: () => undefined };
    const markStopping = () => service.markStopping();
    signal?.addEventListener('abort', markStopping, { once: true });
    running?.add(service);
    stops.push(async () => {
      service.markStopping();
      await service.stop();
      running?.delete(service);
      signal?.removeEventListener('abort', markStopping);
    });
  };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const pgLog = logger.child({ component: 'postgres' });
      const pgOptions = {
        dataDir: path.join(config.embedded.dataDir, 'postgres'),
        port: config.embedded.postgresPort,
        log: (line: string) => pgLog.debug(line),
      };
      const postgres = await startEmbeddedPostgres({ ...pgOptions, signal });
      adopt('embedded PostgreSQL', postgres, () => startEmbeddedPostgres({ ...pgOptions, signal }));
      databaseUrl = postgres.databaseUrl;
      logger.info({ port: postgres.port, childPid: postgres.pid }, 'embedded PostgreSQL started');
    }

    let temporalAddress = config.temporalAddress ?? '';
    let temporalUiUrl: string | undefined;
    if (!temporalAddress && (options.temporal ?? true)) {
      const temporalLog = logger.child({ component: 'temporal-dev-server' });
      const cli = await ensureTemporalCli({ log: (line) => temporalLog.info(line) });
      signal?.throwIfAborted();
      const devServerOptions = {
        cliPath: cli.path,
        dbFilename: path.join(config.embedded.dataDir, 'temporal.db'),
        port: config.embedded.temporalPort,
        uiPort: config.embedded.temporalUiPort,
        namespace: config.temporalNamespace,
        log: (line: string) => temporalLog.debug(line),
      };
      const devServer = await startTemporalDevServer({ ...devServerOptions, signal });
      adopt('embedded Temporal dev server', devServer, () =>
        startTemporalDevServer({ ...devServerOptions, signal }),
      );
      temporalAddress = devServer.address;
      temporalUiUrl = devServer.uiUrl;
      logger.info(
        { address: temporalAddress, childPid: devServer.pid, route: cli.route },
        'embedded Temporal dev server started',
      );
    }

    return {
      databaseUrl,
      temporalAddress,
      temporalUiUrl,
      embedded: { postgres: !config.databaseUrl, temporal: !!temporalUiUrl },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

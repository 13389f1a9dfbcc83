import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** How one delivery attempt ended (SPEC §6): one increment per task_logs row. */
export type AttemptOutcome =
  | 'success'
  | 'rate_limited'
  | 'server_error'
  | 'network_error'
  | 'rejected'
  /** Discord as a whole (or our network to it) failed: waited out, not the webhook's failure. */
  | 'discord_down';

/** Discord's limits and outages as the deliveries meet them (SPEC §13). */
export interface DiscordMetrics {
  /** discord_bucket_wait_seconds: how long a delivery waited for its webhook's bucket. */
  readonly bucketWait: Histogram;
  /** discord_rate_limited_total{scope}: 429 answers (webhook, global, shared). */
  readonly rateLimited: Counter<'scope'>;
  /** discord_invalid_requests_total{status}: 401, 403 and 429 answers, which Cloudflare counts. */
  readonly invalidRequests: Counter<'status'>;
  /** discord_invalid_budget_paused: 1 while sending waits for DISCORD_INVALID_REQUEST_BUDGET. */
  readonly budgetPaused: Gauge;
  /** discord_unreachable{origin}: 1 while the last probe of Discord's API failed (outage). */
  readonly unreachable: Gauge<'origin'>;
}

export interface DeliveryMetrics {
  /** discord_delivery_attempts_total{outcome}: every attempt, by what Discord made of it. */
  readonly attempts: Counter<'outcome'>;
  /** discord_deliveries_total{outcome}: executions that ended, `success` or `failed`. */
  readonly deliveries: Counter<'outcome'>;
  /** discord_delivery_retries_total{reason}: failed attempts that Temporal will retry. */
  readonly retries: Counter<'reason'>;
  /** discord_delivery_latency_seconds{outcome}: scheduled time to Discord's final answer. */
  readonly latency: Histogram<'outcome'>;
  /** discord_webhook_request_duration_seconds{outcome}: the HTTP call of one attempt. */
  readonly requestDuration: Histogram<'outcome'>;
  /** Buckets, 429s, invalid requests and outages (SPEC §13). */
  readonly discord?: DiscordMetrics;
  /**
   * The daily log prune's figures. Here because the prune is an activity of the same worker and
   * the worker hands its activities this one object.
   */
  readonly logPrune?: LogPruneMetrics;
}

/** The log retention's prune (SPEC §12), which runs on a worker once a day. */
export interface LogPruneMetrics {
  /** log_prune_deleted_rows_total: log rows deleted for being older than LOG_RETENTION_DAYS. */
  readonly deletedRows: Counter;
  /** log_prune_batches_total: DELETE statements (one short transaction each). */
  readonly batches: Counter;
  /** log_prune_duration_seconds: how long one prune took, by outcome (completed, failed). */
  readonly duration: Histogram<'outcome'>;
  /** log_prune_last_completed_timestamp_seconds: when a prune last finished (alert when stale). */
  readonly lastCompleted: Gauge;
}

export interface Metrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly delivery: DeliveryMetrics;
  readonly contentType: string;
  /**
   * Adds another exporter of this process to the output of render(): the Temporal SDK's worker
   * metrics come from its own (Rust) Prometheus exporter, which `scrape` reads.
   */
  addSource(name: string, scrape: () => Promise<string>): void;
  /** The Prometheus text exposition of this process: prom-client's registry plus the sources. */
  render(): Promise<string>;
}

/** One registry per process (no global default registry, so tests can build several apps). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  // The event-loop delay histogram samples every 100 ms instead of prom-client's 10, a cost every
  // process pays whether anything is due or not: an idle node process with the default metrics
  // used 17.9 ms of CPU per second at 10, 9.7 at 100 and 7.3 without them (2026-12-07). Lag that
  // matters lasts longer than 100 ms.
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const httpRequests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests served, by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const delivery: DeliveryMetrics = {
    attempts: new Counter({
      name: 'discord_delivery_attempts_total',
      help: 'Delivery attempts (one per execution log row), by outcome: success, rate_limited, server_error, network_error, rejected',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    deliveries: new Counter({
      name: 'discord_deliveries_total',
      help: 'Deliveries that ended, by outcome: success, or failed (permanently, or after the last retry)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'discord_delivery_retries_total',
      help: 'Failed attempts that Temporal retries, by reason: rate_limited, server_error, network_error',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'discord_delivery_latency_seconds',
      help: "Scheduled runs: from the schedule's scheduled time to Discord's final answer (retries included), by outcome",
      labelNames: ['outcome'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'discord_webhook_request_duration_seconds',
      help: 'Duration of the HTTP call to Discord in one attempt, by attempt outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    discord: {
      bucketWait: new Histogram({
        name: 'discord_bucket_wait_seconds',
        help: "How long a delivery waited for its webhook's rate-limit bucket before sending (in the activity, or until it handed the wait to the workflow)",
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
        registers: [registry],
      }),
      rateLimited: new Counter({
        name: 'discord_rate_limited_total',
        help: '429 answers from Discord, by scope: webhook (its bucket), global, shared',
        labelNames: ['scope'] as const,
        registers: [registry],
      }),
      invalidRequests: new Counter({
        name: 'discord_invalid_requests_total',
        help: 'Invalid requests (401, 403, 429 except shared), which Cloudflare bans an IP for at 10,000 per 10 minutes',
        labelNames: ['status'] as const,
        registers: [registry],
      }),
      budgetPaused: new Gauge({
        name: 'discord_invalid_budget_paused',
        help: 'Whether sending is paused because DISCORD_INVALID_REQUEST_BUDGET was reached (1) or not (0)',
        registers: [registry],
      }),
      unreachable: new Gauge({
        name: 'discord_unreachable',
        help: "Whether the last probe of Discord's API (GET /api/v10/gateway) failed: Discord's outage or our network's",
        labelNames: ['origin'] as const,
        registers: [registry],
      }),
    },
    logPrune: {
      deletedRows: new Counter({
        name: 'log_prune_deleted_rows_total',
        help: 'Execution log rows deleted by the daily prune for being older than LOG_RETENTION_DAYS',
        registers: [registry],
      }),
      batches: new Counter({
        name: 'log_prune_batches_total',
        help: 'DELETE batches the log prune ran (each one short transaction)',
        registers: [registry],
      }),
      duration: new Histogram({
        name: 'log_prune_duration_seconds',
        help: 'Duration of one log prune, by outcome: completed or failed',
        labelNames: ['outcome'] as const,
        buckets: [0.1, 1, 5, 15, 30, 60, 120, 300, 900, 3600],
        registers: [registry],
      }),
      lastCompleted: new Gauge({
        name: 'log_prune_last_completed_timestamp_seconds',
        help: 'Unix time at which a log prune last completed on this worker',
        registers: [registry],
      }),
    },
  };

  const sources = new Map<string, () => Promise<string>>();
  return {
    registry,
    httpRequests,
    httpDuration,
    delivery,
    contentType: registry.contentType,
    addSource(name, scrape) {
      sources.set(name, scrape);
    },
    async render() {
      const parts = [await registry.metrics()];
      for (const [name, scrape] of sources) {
        try {
          parts.push(await scrape());
        } catch (error) {
          // A comment keeps the exposition valid; the process's own metrics are still served.
          const reason = error instanceof Error ? error.message : String(error);
          parts.push(`# ${name} metrics unavailable: ${reason.replace(/\s+/g, ' ')}\n`);
        }
      }
      return parts.map((part) => (part.endsWith('\n') ? part : `${part}\n`)).join('');
    },
  };
}

import express, { type Express, type RequestHandler, Router } from 'express';
import * as OpenApiValidator from 'express-openapi-validator';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import type { Orm } from '../db/orm';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Services } from '../services';
import { pingTemporal, type TemporalClientHandle } from '../temporal/client';
import { createConsoleRouter } from './console';
import { createErrorHandler, notFoundHandler } from './error-handler';
import { createApiKeyAuth, refuseWritesOfReadOnlyKeys } from './middleware/auth';
import { createRateLimit, type RateLimitOptions } from './middleware/rate-limit';
import { createRequestContext } from './middleware/request-context';
import { loadOpenApiDocument } from './openapi';
import { memoizeValidatorRouteMatchers } from './openapi-route-matchers';
import { openApiForPublicPath, publicApiPath } from './public-path';
import { createHealthRouter, type HealthCheck } from './routes/health.router';
import { createConfigRouter } from './routes/config.router';
import { createDashboardRouter } from './routes/dashboard.router';
import { createLogsRouter } from './routes/logs.router';
import { createSchedulesRouter } from './routes/schedules.router';
import { createTasksRouter } from './routes/tasks.router';
import { createPatternMessages, rejectUnstorableText, UUID_FORMAT } from './validation';
import { createMethodGuard } from './validation-methods';

export const BODY_LIMIT = '64kb';

const SWAGGER_UI_OPTIONS: swaggerUi.SwaggerUiOptions = {
  customSiteTitle: 'Discord Task Scheduler API',
  swaggerOptions: { persistAuthorization: true },
};

export interface AppDeps {
  logger: Logger;
  orm: Orm;
  temporal: TemporalClientHandle;
  metrics: Metrics;
  services: Pick<Services, 'tasks' | 'logs' | 'stats' | 'idempotency'>;
  apiKeys: readonly string[];
  /** Keys that may only read (API_KEYS_READ_ONLY, SPEC §14). */
  readOnlyApiKeys?: readonly string[];
  /** Validate every response against the OpenAPI document (tests); off in production. */
  validateResponses?: boolean;
  openapi?: OpenAPIV3.DocumentV3;
  /** Overrides for the health probes (tests); default: PostgreSQL `select 1`, Temporal system info. */
  healthChecks?: { database?: HealthCheck; temporal?: HealthCheck };
  /** PUBLIC_API_PATH: where a reverse proxy exposes `/api` (see public-path.ts). */
  publicApiPath?: string;
  /** Per-key rate limit of the `/api` routes; none when omitted or perMinute is 0. */
  rateLimit?: Omit<RateLimitOptions, 'logger'>;
  /** What GET /api/config tells clients: the Temporal Web UI to link executions to. */
  clientConfig?: { temporalUiUrl?: string; temporalNamespace: string };
  /** The built web console (web/dist); found next to the code when omitted (console.ts). */
  consoleDir?: string;
}

export function createApp(deps: AppDeps): Express {
  const { logger, orm, temporal, metrics } = deps;
  const apiSpec = deps.openapi ?? loadOpenApiDocument();
  const app = express();
  app.disable('x-powered-by');
  // No ETag: Express hashes every response body for it, about 15 % of a list request's CPU
  // (bench), and API clients do not send If-None-Match; nothing here is cacheable for long.
  app.set('etag', false);
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('query parser', 'simple');

  app.use(createRequestContext(logger));
  // No upgrade-insecure-requests: the API is also served over plain HTTP (locally, behind a
  // TLS-terminating proxy), where that directive would break Swagger UI's assets.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(recordHttpMetrics(metrics));
  // 405 with Allow for a method a known route does not serve, before auth (the methods are public
  // in the document anyway); HEAD wherever GET is; unknown paths fall through to 404.
  app.use(createMethodGuard(apiSpec));

  app.use(
    createHealthRouter({
      database:
        deps.healthChecks?.database ??
        (async () => {
          await orm.em.getConnection().execute('select 1');
        }),
      temporal: deps.healthChecks?.temporal ?? (() => pingTemporal(temporal.connection, 1_000)),
    }),
  );
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.render());
  });

  // Public documentation: the contract itself and Swagger UI over it, both as a client behind a
  // path-rewriting proxy must see them (public-path.ts), so that "try it out" works there too.
  const publicDocument = (req: express.Request) =>
    openApiForPublicPath(apiSpec, publicApiPath(req, deps.publicApiPath));
  app.get('/api/openapi.json', (req, res) => {
    res.json(publicDocument(req));
  });
  // A relative redirect: behind a proxy, an absolute `/api/docs/` would leave the public prefix.
  app.get('/api/docs', (req, res, next) => {
    if (req.path === '/api/docs' && !req.originalUrl.split('?')[0]!.endsWith('/'))
      res.redirect(301, 'docs/');
    else next();
  });
  const attachDocument: RequestHandler = (req, _res, next) => {
    (req as express.Request & { swaggerDoc?: unknown }).swaggerDoc = publicDocument(req);
    next();
  };
  app.use(
    '/api/docs',
    attachDocument,
    swaggerUi.serveFiles(apiSpec, SWAGGER_UI_OPTIONS),
    swaggerUi.setup(undefined, SWAGGER_UI_OPTIONS),
  );

  // The web console (SPEC §10), before the validator: its paths are not API routes.
  app.use(createConsoleRouter(deps.consoleDir));

  const api = Router();
  api.use(createApiKeyAuth(deps.apiKeys, deps.readOnlyApiKeys ?? []));
  api.use(refuseWritesOfReadOnlyKeys);
  const rateLimit = deps.rateLimit && createRateLimit({ ...deps.rateLimit, logger });
  if (rateLimit) api.use(rateLimit);
  api.use(express.json({ limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] }));
  app.use('/api', api);
  // The validator compiled a matcher per documented route on every request (see the module).
  memoizeValidatorRouteMatchers();
  app.use(
    OpenApiValidator.middleware({
      apiSpec,
      // coerceTypes applies to the JSON body only: the validator always coerces path and query
      // parameters (they arrive as text), so `?page=2` is 2 while `"maxRetry": "3"` is a 400
      // (SPEC §5: strings are not coerced into numbers in JSON bodies).
      validateRequests: { allErrors: true, coerceTypes: false, removeAdditional: false },
      validateResponses: deps.validateResponses ?? false,
      validateSecurity: false,
      validateFormats: true,
      formats: { uuid: UUID_FORMAT },
      ignoreUndocumented: false,
      ignorePaths: /^\/(health|metrics|api\/docs|api\/openapi\.json)/,
    }),
  );
  app.use('/api', rejectUnstorableText);
  // No per-request EntityManager (RequestContext): reads are plain SQL and every write forks its
  // own EntityManager in the service, so a fork per request would only cost time.

  app.use(
    '/api',
    createTasksRouter({ tasks: deps.services.tasks, idempotency: deps.services.idempotency }),
  );
  app.use('/api', createLogsRouter({ logs: deps.services.logs }));
  app.use('/api', createDashboardRouter({ stats: deps.services.stats }));
  app.use('/api', createSchedulesRouter());
  app.use('/api', createConfigRouter(deps.clientConfig ?? { temporalNamespace: 'default' }));

  app.use(notFoundHandler);
  app.use(createPatternMessages(apiSpec));
  app.use(createErrorHandler(logger));
  return app;
}

function recordHttpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.once('finish', () => {
      // The matched route template keeps the label set small (no ids in labels).
      const route = req.route?.path
        ? `${req.baseUrl}${String(req.route.path)}`
        : res.statusCode === 404
          ? 'unmatched'
          : req.baseUrl || req.path;
      const labels = { method: req.method, route, status: String(res.statusCode) };
      end(labels);
      metrics.httpRequests.inc(labels);
    });
    next();
  };
}

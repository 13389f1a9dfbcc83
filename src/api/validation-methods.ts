import type { RequestHandler } from 'express';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';
import { problem, sendProblem } from './error-handler';

/**
 * HTTP methods per route (RFC 9110 §15.5.6): a method a known route does not support is a 405
 * problem with an `Allow` header listing the ones it does; OPTIONS answers 204 with that header;
 * HEAD is served wherever GET is. Unknown paths stay 404 (the not-found handler).
 *
 * Without this, each layer answered differently: the OpenAPI validator sent its own 405 without
 * `Allow` (and refused HEAD), while `/health`, `/metrics` and `/api/openapi.json` answered 404 to
 * TRACE or PUT and Swagger UI answered 200 to any method.
 */
interface RouteMethods {
  pattern: RegExp;
  /** Upper-case methods the route serves, HEAD and OPTIONS included. */
  methods: ReadonlySet<string>;
  allow: string;
}

/** `/api/tasks/{id}` -> a regexp for the request path as Express routes it (any case, optional `/`). */
function pathPattern(template: string, prefix = false): RegExp {
  const escaped = template
    .split(/\{[^}/]+\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${escaped}${prefix ? '(?:/.*)?' : '/?'}$`, 'i');
}

/** The methods an OpenAPI path item can hold, in the order `Allow` lists them. */
const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'OPTIONS'] as const;

function routeMethods(pattern: RegExp, declared: readonly string[]): RouteMethods {
  // HEAD and OPTIONS are answered for every route here (see createMethodGuard).
  const methods = new Set<string>([...declared, 'OPTIONS']);
  if (methods.has('GET')) methods.add('HEAD');
  const allow = ORDER.filter((m) => methods.has(m)).join(', ');
  return { pattern, methods, allow };
}

/**
 * The routes of `doc` plus the ones served outside it (`/api/openapi.json`, Swagger UI under
 * `/api/docs`), each with the methods it serves.
 */
export function routeTable(doc: OpenAPIV3.DocumentV3): RouteMethods[] {
  const routes = Object.entries(doc.paths).map(([template, item]) =>
    routeMethods(
      pathPattern(template),
      ORDER.filter((method) => item?.[method.toLowerCase() as Lowercase<typeof method>]),
    ),
  );
  routes.push(routeMethods(pathPattern('/api/openapi.json'), ['GET']));
  routes.push(routeMethods(pathPattern('/api/docs', true), ['GET']));
  return routes;
}

export function createMethodGuard(doc: OpenAPIV3.DocumentV3): RequestHandler {
  const routes = routeTable(doc);
  return (req, res, next) => {
    const route = routes.find((r) => r.pattern.test(req.path));
    if (!route) return next();
    if (req.method === 'HEAD' && route.methods.has('GET')) {
      // Served as the GET it stands for: Node decided when the request arrived that a HEAD
      // response carries no body, so only the routing (and the validator, which knows no HEAD
      // operations) sees GET.
      req.method = 'GET';
      return next();
    }
    if (req.method === 'OPTIONS') {
      res.set('Allow', route.allow).status(204).end();
      return;
    }
    if (route.methods.has(req.method)) return next();
    res.set('Allow', route.allow);
    sendProblem(
      res,
      problem(405, `${req.method} is not supported here; this resource allows ${route.allow}.`),
    );
  };
}

import type { Request } from 'express';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types';

/** The app's own base path of its API routes, as the OpenAPI document's paths spell them. */
export const API_BASE_PATH = '/api';

const SAFE_PATH = /^(\/[\w.~-]+)+$/;

/**
 * Where clients reach this app's `/api` routes. A reverse proxy may expose them elsewhere:
 * - `configured` (PUBLIC_API_PATH) wins: the production Traefik rewrites
 *   `/api/task-scheduler/<x>` to `/api/<x>`, so the public API path is `/api/task-scheduler`;
 * - otherwise a proxy that strips a prefix and says so in X-Forwarded-Prefix (Traefik's
 *   stripprefix, nginx, ...) serves the whole app under that prefix: `<prefix>/api`. The header is
 *   believed only from a trusted proxy (Express's `trust proxy`) and only when it is a plain path;
 * - otherwise `/api`.
 */
export function publicApiPath(req: Request, configured?: string): string {
  if (configured) return configured;
  const header = req.get('x-forwarded-prefix')?.trim().replace(/\/+$/, '');
  if (!header || !SAFE_PATH.test(header)) return API_BASE_PATH;
  const trust = req.app.get('trust proxy fn') as
    ((address: string, hop: number) => boolean) | undefined;
  if (!trust?.(req.socket.remoteAddress ?? '', 0)) return API_BASE_PATH;
  return `${header}${API_BASE_PATH}`;
}

/**
 * The OpenAPI document as a client at `apiPath` must see it, so that Swagger UI's "try it out"
 * calls the public URLs: the server URL becomes `apiPath` and the `/api/...` paths are written
 * relative to it. Routes outside `/api` (`/health`, `/metrics`) are left out: a proxy that
 * exposes the API under a path does not expose them there. At `/api` the document is unchanged.
 */
export function openApiForPublicPath(
  doc: OpenAPIV3.DocumentV3,
  apiPath: string,
): OpenAPIV3.DocumentV3 {
  if (apiPath === API_BASE_PATH) return doc;
  const paths: OpenAPIV3.PathsObject = {};
  for (const [route, item] of Object.entries(doc.paths)) {
    if (route.startsWith(`${API_BASE_PATH}/`)) paths[route.slice(API_BASE_PATH.length)] = item;
  }
  return {
    ...doc,
    servers: [
      { url: apiPath, description: 'This API, as the reverse proxy in front of it exposes it' },
    ],
    paths,
  };
}

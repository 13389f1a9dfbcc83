import path from 'node:path';

type PathToRegexp = (route: string, options?: { sensitive?: boolean; strict?: boolean }) => unknown;

interface PathToRegexpModule {
  pathToRegexp: PathToRegexp & { memoized?: true };
}

/** Far more than the document's routes; a bound all the same, like the other caches here. */
const MATCHERS_KEPT = 1_000;

let compilations = 0;

/**
 * express-openapi-validator 5.6.2 finds a request's operation by compiling path-to-regexp for each
 * documented route, in the document's order, on every request until one matches
 * (openapi.metadata.js, lookupRoute): `/api/logs` compiled eight regular expressions per request
 * and `/api/dashboard/stats` nine, about 5 % of a read's CPU with the garbage they left. Upstream
 * caches them in a pull request not yet released (cdimascio/express-openapi-validator#1217).
 * Until then the validator's path-to-regexp answers a route and options it has compiled with the
 * same matcher: a route's matcher depends on nothing else, and the validator only reads it.
 * Done once per process, before the validator's first request; idempotent.
 */
export function memoizeValidatorRouteMatchers(): void {
  const validatorDir = path.dirname(require.resolve('express-openapi-validator'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const module = require(
    require.resolve('path-to-regexp', { paths: [validatorDir] }),
  ) as PathToRegexpModule;
  const compile = module.pathToRegexp;
  if (compile.memoized) return;
  const matchers = new Map<string, unknown>();
  const memoized: PathToRegexpModule['pathToRegexp'] = (route, options = {}) => {
    // Only a string route with the two options the validator passes is memoized.
    const keys = Object.keys(options);
    if (typeof route !== 'string' || keys.some((k) => k !== 'sensitive' && k !== 'strict'))
      return compile(route, options);
    const key = `${options.sensitive ? 's' : '-'}${options.strict ? 's' : '-'}${route}`;
    let matcher = matchers.get(key);
    if (matcher === undefined) {
      compilations += 1;
      matcher = compile(route, options);
      if (matchers.size >= MATCHERS_KEPT) matchers.clear();
      matchers.set(key, matcher);
    }
    return matcher;
  };
  memoized.memoized = true;
  module.pathToRegexp = memoized;
}

/** How many route matchers the memo has compiled so far (tests). */
export function routeMatcherCompilations(): number {
  return compilations;
}

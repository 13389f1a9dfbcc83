import fs from 'node:fs';
import path from 'node:path';
import express, { type RequestHandler, Router } from 'express';

/**
 * Where `npm run console:build` writes the web console (web/dist), seen from this file under
 * src/api (tsx) or dist/src/api (the compiled build, and the Docker image).
 */
const CANDIDATES = [
  path.resolve(__dirname, '../../web/dist'),
  path.resolve(__dirname, '../../../web/dist'),
];

export function findConsoleDir(): string | undefined {
  return CANDIDATES.find((dir) => fs.existsSync(path.join(dir, 'index.html')));
}

/**
 * The console's client routes (web/src/routes.ts), answered with index.html so that a reload or a
 * shared link works. Listed rather than "any GET": an unknown path stays a 404 problem, and
 * /api, /health and /metrics can never be shadowed.
 */
const CLIENT_ROUTE = /^\/(?:tasks(?:\/new|\/[0-9a-f-]{36}(?:\/edit)?)?|logs|dashboard)?\/?$/;
/** Top-level files of the build besides index.html (the icon). */
const TOP_LEVEL_FILE = /^\/[\w.-]+\.(?:svg|ico|png|txt|webmanifest)$/;

/**
 * Serves the web console (SPEC §10): Vite's hashed files under /assets for a year, immutable
 * (a new build has new names); index.html never from cache, so a deploy shows at once, also
 * for the client routes (CLIENT_ROUTE). `dir` undefined: found (web/dist) on first use, so a console
 * built after the process started is served too.
 */
export function createConsoleRouter(dir?: string): RequestHandler {
  const router = Router();
  let root = dir;
  const resolveRoot = () => (root ??= findConsoleDir());

  const assets: RequestHandler = (req, res, next) => {
    const found = resolveRoot();
    if (!found) return next();
    return express.static(path.join(found, 'assets'), {
      immutable: true,
      maxAge: '365d',
      index: false,
      fallthrough: true, // a missing asset goes on to the 404 problem
    })(req, res, next);
  };
  router.use('/assets', assets);

  router.get(/.*/, (req, res, next) => {
    const isTopLevelFile = TOP_LEVEL_FILE.test(req.path);
    if (!CLIENT_ROUTE.test(req.path) && !isTopLevelFile) return next();
    const found = resolveRoot();
    if (!found) {
      if (isTopLevelFile) return next();
      res
        .status(404)
        .type('text/plain')
        .send('The web console is not built: run `npm run console:build` (npm start does it).\n');
      return;
    }
    if (isTopLevelFile) {
      res.setHeader('Cache-Control', 'public, max-age=3600');
      return res.sendFile(req.path.slice(1), { root: found, dotfiles: 'deny' }, (err) => {
        if (err) next();
      });
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile('index.html', { root: found });
  });
  // The API's own paths pass by without entering the router (its dispatch was a measurable part
  // of a read's CPU).
  return (req, res, next) => (SERVER_PATH.test(req.path) ? next() : router(req, res, next));
}

/** Paths the console never serves. */
const SERVER_PATH = /^\/(?:api|health|metrics)(?:\/|$)/;

import { existsSync } from 'node:fs';
import path from 'node:path';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AppConfig } from '../config/config';
import { failure, sendResult } from '../http/http-errors';

/**
 * What browsers get from this server: the dashboard (a Vite build of `dashboard/`, at `/`) and the GraphiQL explorer
 * (at `/graphql`, for a navigation). Both are files of one build folder (DASHBOARD_DIR): nothing is fetched from a
 * CDN, so both work offline.
 */

/** The explorer is on in development and test, off in production unless GRAPHQL_EXPLORER=true. */
export function explorerEnabled(config: Pick<AppConfig, 'nodeEnv' | 'browser'>): boolean {
  return config.browser.explorer ?? config.nodeEnv !== 'production';
}

/**
 * A browser's navigation: a GET or HEAD that prefers HTML to JSON. Browsers send `Accept: text/html,…,*\/*;q=0.8`;
 * curl, fetch and GraphQL clients send `*\/*`, JSON or nothing, and get the API's JSON as before.
 */
export function wantsHtml(req: Request): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') && req.accepts(['application/json', 'text/html']) === 'text/html'
  );
}

/** Paths of the API: an unknown one answers the JSON 404, never the dashboard's page. */
const API_PATH = /^\/(api|graphql|healthz|readyz|dev)(\/|$)/;

/** Our own fixed files: a dot folder on their path (the suite's `.test-build/`) is no dotfile request. */
const SEND_OPTIONS = { dotfiles: 'allow' } as const;

const notBuilt = (what: string) =>
  failure(404, 'not_found', `The ${what} is not built: run \`npm run build\` (or \`npm start\`, which builds it)`);

/** Mounted at `/graphql` ahead of Apollo: a browser's GET gets the explorer's page; anything else goes on. */
export function explorerPage(config: Pick<AppConfig, 'nodeEnv' | 'browser'>): RequestHandler {
  const enabled = explorerEnabled(config);
  const file = path.join(config.browser.dashboardDir, 'explorer.html');
  return (req: Request, res: Response, next: NextFunction) => {
    if (!enabled || req.path !== '/' || !wantsHtml(req)) {
      next();
      return;
    }
    if (!existsSync(file)) {
      sendResult(res, notBuilt('GraphQL explorer'));
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(file, SEND_OPTIONS);
  };
}

/**
 * The dashboard's files, then its page for any other navigation outside the API (the app routes on the client:
 * `/invoices/…` reloaded must load the app). Hashed assets are cached for good; pages are revalidated.
 */
export function dashboardRouter(config: Pick<AppConfig, 'browser'>): express.Router {
  const dir = config.browser.dashboardDir;
  const index = path.join(dir, 'index.html');
  const router = express.Router();
  // The explorer is served at /graphql only, where its switch applies.
  router.use((req: Request, _res: Response, next: NextFunction) => {
    next(req.path === '/explorer.html' ? 'router' : undefined);
  });
  router.use(
    express.static(dir, {
      index: false,
      setHeaders(res, file) {
        const immutable = file.startsWith(path.join(dir, 'assets') + path.sep);
        res.setHeader('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  router.use((req: Request, res: Response, next: NextFunction) => {
    // A missing file (`/assets/x.js`, `/favicon.ico`) and the API's own paths keep their 404.
    if (!wantsHtml(req) || API_PATH.test(req.path) || path.extname(req.path) !== '') {
      next();
      return;
    }
    if (!existsSync(index)) {
      sendResult(res, notBuilt('dashboard'));
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(index, SEND_OPTIONS);
  });
  return router;
}

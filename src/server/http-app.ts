import type http from 'node:http';
import express from 'express';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../config/logger';
import { compileTrust } from '../config/trust-proxy';
import { billingRouter } from '../http/billing.routes';
import { devTokenRouter } from '../http/dev-token.route';
import { errorResult, failure, sendResult } from '../http/http-errors';
import { beginRequest } from '../http/request-context';
import { usageRouter } from '../http/usage.route';
import { webhookEndpointRouter } from '../http/webhook-endpoints.routes';
import { STRIPE_WEBHOOK_PATH } from '../webhooks';
import type { WebhookComponents } from '../webhooks';
import { dashboardRouter, explorerPage } from './browser-app';
import { SSE_PATH } from './graphql-sse';
import { healthRouter } from './health';
import { metricsRouter, timeRequests } from './metrics';
import type { InstanceFigures } from './metrics';
import type { RequestServices } from './request-services';

/**
 * The Express app: request ids and logs, Stripe webhooks, health, REST, GraphQL over HTTP and its subscription as
 * Server-Sent Events, the explorer and the dashboard for browsers, one error shape.
 */
export function createHttpApp(
  services: RequestServices,
  webhooks: WebhookComponents,
  graphqlHandlers: RequestHandler[],
  streamHandlers: RequestHandler[],
  instance: InstanceFigures,
): express.Express {
  const { config, db, verify, gateway, clock, logger } = services;
  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY: by default the socket peer is the client; X-Forwarded-For is believed only from configured proxies.
  app.set('trust proxy', compileTrust(config.trustProxy));

  // Request id + one structured log line per request (the child logger is made only when something logs).
  app.use((req: Request, res: Response, next: NextFunction) => {
    const context = beginRequest(req, res, logger);
    res.locals.requestId = context.requestId;
    Object.defineProperty(res.locals, 'log', { get: () => context.log });
    next();
  });
  app.use(timeRequests);

  // Stripe webhooks first: the route reads the raw body, so no JSON parser may run before it.
  app.use(webhooks.router);
  app.use(healthRouter(db, services.statusHub));
  app.use(metricsRouter(db, verify, config.monitoring.metricsToken, instance, logger));
  app.use(usageRouter(db, verify, services.usageQueue));
  app.use(billingRouter({ db, verify, gateway, config, clock, logger }));
  app.use(webhookEndpointRouter({ db, verify, config, clock, secretBox: services.secretBox }));
  // Development only (NODE_ENV=development with the development JWT secret): the dashboard's "sign in as".
  const devTokens = devTokenRouter(config);
  if (devTokens) {
    app.use(devTokens);
  }
  // The event stream first: `/graphql` would take its path as a prefix.
  app.use(SSE_PATH, ...streamHandlers);
  // GraphQL answers are per caller and never revalidated: no ETag, which Express computes by hashing every body (a
  // page of 50 invoices is 130 KB). A sub-application, so the REST routes keep theirs; it inherits the other
  // settings (trust proxy) except its own defaults, hence x-powered-by again.
  const graphqlApp = express();
  graphqlApp.disable('x-powered-by');
  graphqlApp.set('etag', false);
  // A browser's GET gets the bundled GraphiQL explorer (GRAPHQL_EXPLORER); every other request goes to Apollo.
  graphqlApp.use(explorerPage(config));
  graphqlApp.use(...graphqlHandlers);
  app.use('/graphql', graphqlApp);
  // The dashboard (DASHBOARD_DIR) at `/`, its page for other navigations outside the API.
  app.use(dashboardRouter(config));

  // Every REST answer has one error shape (`http-errors.ts`), unknown paths and unreadable requests included.
  app.use((req: Request, res: Response) => {
    sendResult(res, failure(404, 'not_found', `No route for ${req.method} ${req.path}`));
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const result =
      error instanceof URIError
        ? failure(400, 'invalid_request', 'The path is not valid percent-encoding')
        : errorResult(error, res.locals.log as Logger | undefined);
    sendResult(res, result);
  });
  return app;
}

/** `url` is exactly `path`, or `path?query`. */
function isPath(url: string | undefined, path: string): boolean {
  return url !== undefined && url.startsWith(path) && (url.length === path.length || url[path.length] === '?');
}

/**
 * The server's request listener. Stripe's webhooks take a lane ahead of Express: the same intake the router mounts,
 * without Express's per-request dispatch (prototype swaps, router walk, finalhandler), which cost a third of the
 * route's throughput (docs/webhooks.md). Other spellings Express accepts (trailing slash, other case) still reach it
 * through the router.
 */
export function webhookLane(
  webhooks: WebhookComponents,
  app: express.Express,
  logger: Logger,
): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    if (req.method === 'POST' && isPath(req.url, STRIPE_WEBHOOK_PATH)) {
      void webhooks.intake(req, res, beginRequest(req, res, logger));
      return;
    }
    app(req, res);
  };
}

import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { GraphQLError } from 'graphql';
import type { ExecutionArgs, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Clock } from './config/clock';
import { systemClock } from './config/clock';
import type { AppConfig } from './config/config';
import { createLogger } from './config/logger';
import { compileTrust } from './config/trust-proxy';
import type { Logger } from './config/logger';
import type { Database } from './entities/orm';
import { pendingMigrations } from './entities/orm';
import type { GraphQLContext } from './resolvers/context';
import { formatErrors, graphqlRules, logUnexpectedErrors, prepareOperation } from './resolvers/graphql-rules';
import { buildAppSchema } from './resolvers';
import { storableJsonReviver, unstorableVariablesError } from './schema/storable-text';
import type { Caller } from './services/customers/caller';
import { createTokenVerifier } from './services/customers/auth.service';
import { DomainError } from './services/shared/errors';
import { errorResult, failure, sendResult } from './http/http-errors';
import { StatusChangeHub } from './services/status-feed/status-change-hub';
import type { StripeGateway } from './stripe';
import { gatewayFromConfig } from './stripe/gateway-from-config';
import { authenticate } from './http/authenticate';
import { billingRouter } from './http/billing.routes';
import { usageRouter } from './http/usage.route';
import { beginRequest } from './http/request-context';
import { STRIPE_WEBHOOK_PATH, createWebhookComponents } from './webhooks';

export interface ServerOptions {
  config: AppConfig;
  db: Database;
  logger?: Logger;
  /** Default: built from `config.stripe` (real Stripe, or the local emulator at STRIPE_API_BASE). */
  gateway?: StripeGateway;
  /**
   * Time for everything the server decides by the clock: token expiry, the webhook route's per-IP limit, the webhook
   * worker's polls and retries, Stripe pacing (when the gateway is built here), stale payment attempts, which
   * periods have ended. Default: the system clock; tests pass one they move by hand.
   */
  clock?: Clock;
}

export interface BillingServer {
  app: express.Express;
  httpServer: http.Server;
  schema: GraphQLSchema;
  /** Starts listening; port 0 picks a free port. Resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Graceful stop: refuse new connections, finish in-flight requests, close WebSockets. Leaves the database open. */
  close(): Promise<void>;
  /**
   * Status-change subscriptions open on this instance, each listening from this moment on (a dashboard, or a test
   * that must not trigger a change before its subscription can hear it).
   */
  statusFeeds(): number;
}

// A type alias (not an interface) so it satisfies graphql-ws's Record constraint.
type WsExtra = { caller?: Caller };

/** `url` is exactly `path`, or `path?query`. */
function isPath(url: string | undefined, path: string): boolean {
  return url !== undefined && url.startsWith(path) && (url.length === path.length || url[path.length] === '?');
}

/** Assembles Express + Apollo Server + graphql-ws from a configuration; the result is not listening yet. */
export async function createServer(options: ServerOptions): Promise<BillingServer> {
  const { config, db } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config);
  const verify = createTokenVerifier(config, clock);
  const schema = await buildAppSchema();
  // One set of rules (limits, introspection, suggestions, error formatting) for both HTTP and WebSocket.
  const rules = graphqlRules(config.nodeEnv);
  const gateway = options.gateway ?? gatewayFromConfig(config, { clock });
  const statusHub = new StatusChangeHub(db, db.url, logger);
  await statusHub.start();

  const app = express();
  app.disable('x-powered-by');
  // TRUST_PROXY: by default the socket peer is the client; X-Forwarded-For is believed only from configured proxies.
  app.set('trust proxy', compileTrust(config.trustProxy));
  const webhooks = createWebhookComponents({ db, config, logger, clock });
  // Stripe's webhooks take a lane ahead of Express: the same intake the router mounts, without Express's per-request
  // dispatch (prototype swaps, router walk, finalhandler), which cost a third of the route's throughput
  // (docs/webhooks.md). Other spellings Express accepts (trailing slash, other case) still reach it through the router.
  const httpServer = http.createServer((req, res) => {
    if (req.method === 'POST' && isPath(req.url, STRIPE_WEBHOOK_PATH)) {
      void webhooks.intake(req, res, beginRequest(req, res, logger));
      return;
    }
    app(req, res);
  });

  // Request id + one structured log line per request (the child logger is made only when something logs).
  app.use((req: Request, res: Response, next: NextFunction) => {
    const context = beginRequest(req, res, logger);
    res.locals.requestId = context.requestId;
    Object.defineProperty(res.locals, 'log', { get: () => context.log });
    next();
  });

  // Stripe webhooks first: the route reads the raw body, so no JSON parser may run before it.
  app.use(webhooks.router);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    let ready = true;
    try {
      await db.orm.em.fork().getConnection().execute('select 1');
      checks.database = 'ok';
      const pending = await pendingMigrations(db.orm);
      checks.migrations = pending.length ? `pending: ${pending.join(', ')}` : 'ok';
      ready = pending.length === 0;
    } catch (error) {
      (res.locals.log as Logger).warn({ err: error }, 'readiness check failed');
      checks.database = 'unreachable';
      ready = false;
    }
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });

  app.use(usageRouter(db, verify));
  app.use(billingRouter({ db, verify, gateway, config, clock }));

  // --- GraphQL over WebSocket (graphql-ws), same port and path -------------------------------------------
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const wsCleanup = useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      schema,
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
        const header =
          params.authorization ?? params.Authorization ?? (params.token ? `Bearer ${String(params.token)}` : undefined);
        try {
          ctx.extra.caller = await authenticate(verify, header);
          return true;
        } catch (error) {
          const reason = error instanceof DomainError ? error.message : 'Unauthenticated';
          ctx.extra.socket.close(CloseCode.Unauthorized, reason.slice(0, 120));
          return false;
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        // Parse and validation errors go to onError, which formats them.
        const document = prepareOperation(rules, schema, payload);
        if (Array.isArray(document)) {
          return document;
        }
        const unstorable = unstorableVariablesError(payload.variables);
        if (unstorable) {
          return [unstorable];
        }
        const requestId = randomUUID();
        const contextValue: GraphQLContext = {
          caller: ctx.extra.caller as Caller,
          config,
          clock,
          gateway,
          statusHub,
          em: db.orm.em.fork(),
          log: logger.child({ requestId, transport: 'ws' }),
          requestId,
        };
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue,
        };
        return args;
      },
      // Results, including a subscription's setup errors (e.g. NOT_FOUND) and each event's: formatted as over HTTP.
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors) {
          return undefined;
        }
        logUnexpectedErrors((args.contextValue as GraphQLContext).log, result.errors);
        return { ...result, errors: formatErrors(rules, result.errors) };
      },
      // Errors that end an operation: parse, validation, operation resolution, a subscription stream that failed.
      onError: (_ctx, id, _payload, errors) => {
        logUnexpectedErrors(logger.child({ transport: 'ws', operationId: id }), errors);
        return formatErrors(rules, errors);
      },
    },
    wsServer,
  );

  // --- GraphQL over HTTP (Apollo Server) --------------------------------------------------------------------
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    // main.ts owns signal handling and the shutdown order (HTTP, WebSockets, then the database).
    stopOnTerminationSignals: false,
    // Introspection is refused in production by rules.validationRules (graphql's NoSchemaIntrospectionCustomRule),
    // the rule graphql-ws applies too; Apollo's own switch would add a second, differently worded one.
    introspection: true,
    hideSchemaDetailsFromClientErrors: rules.hideSchemaDetails,
    includeStacktraceInErrorResponses: rules.includeStacktrace,
    validationRules: rules.validationRules,
    parseOptions: rules.parseOptions,
    formatError: rules.formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // No cache hints are used (every answer is per caller), and Apollo's default cache-control plugin wraps every
      // field's resolver to compute them: hundreds of calls for one page of invoices.
      ApolloServerPluginCacheControlDisabled(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await wsCleanup.dispose();
            },
          };
        },
      },
      {
        async requestDidStart() {
          return {
            // Variables arrive already parsed (a GET query string, or a body parsed before our reviver could see it
            // in another transport): hold them to the same text rule as JSON bodies and string literals.
            async didResolveOperation({ request, operation }) {
              if (operation?.operation === 'subscription') {
                throw new GraphQLError(
                  'Subscriptions are served over WebSocket (graphql-ws) at this same /graphql path, not over HTTP',
                  { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } },
                );
              }
              const unstorable = unstorableVariablesError(request.variables);
              if (unstorable) {
                throw unstorable;
              }
            },
            async didEncounterErrors({ contextValue, errors }) {
              logUnexpectedErrors(contextValue.log, errors);
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  // GraphQL answers are per caller and never revalidated: no ETag, which Express computes by hashing every body (a
  // page of 50 invoices is 130 KB). A sub-application, so the REST routes keep theirs; it inherits the other
  // settings (trust proxy) except its own defaults, hence x-powered-by again.
  const graphqlApp = express();
  graphqlApp.disable('x-powered-by');
  graphqlApp.set('etag', false);
  graphqlApp.use(
    // Large enough for a 10,000-event recordUsage batch.
    express.json({ limit: '16mb', reviver: storableJsonReviver }),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GraphQLContext> => {
        let caller: Caller;
        try {
          caller = await authenticate(verify, req.headers.authorization);
        } catch (error) {
          const message = error instanceof DomainError ? error.message : 'Unauthenticated';
          throw new GraphQLError(message, {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
          });
        }
        return {
          caller,
          config,
          clock,
          gateway,
          statusHub,
          em: db.orm.em.fork(),
          log: res.locals.log as Logger,
          requestId: res.locals.requestId as string,
        };
      },
    }),
  );
  app.use('/graphql', graphqlApp);

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

  return {
    app,
    httpServer,
    schema,
    statusFeeds: () => statusHub.listenerCount,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          webhooks.worker.start();
          const address = httpServer.address() as AddressInfo;
          const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
          resolve(`http://${shownHost}:${address.port}`);
        });
      });
    },
    async close() {
      await webhooks.worker.stop();
      // Apollo's drain plugin stops accepting, waits for in-flight requests and disposes graphql-ws.
      await apollo.stop();
      for (const client of wsServer.clients) {
        client.terminate();
      }
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      await statusHub.stop();
      if (httpServer.listening) {
        await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      }
    },
  };
}

import type http from 'node:http';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { RequestHandler } from 'express';
import { GraphQLError, Kind } from 'graphql';
import type { GraphQLSchema } from 'graphql';
import type { Logger } from '../config/logger';
import { graphqlOperationDuration } from '../lib/metrics';
import type { GraphQLContext } from '../resolvers/context';
import type { GraphQLRules } from '../resolvers/graphql-rules';
import { logUnexpectedErrors, variablesError } from '../resolvers/graphql-rules';
import { DOCUMENT_TOO_LONG_MESSAGE, MAX_DOCUMENT_LENGTH } from '../schema/limits';
import { jsonBody } from '../http/json-body';
import { authenticateFirst, identityOf } from './authenticate-first';
import { compiledQueriesGateway } from './compiled-queries';
import type { RequestServices } from './request-services';

export interface GraphQLOverHttp {
  /** Mount at `/graphql`: the JSON body parser and Apollo's middleware. */
  handlers: RequestHandler[];
  /** Drains the HTTP server (in-flight requests) and runs `onDrain` (the WebSocket side), then stops Apollo. */
  stop(): Promise<void>;
}

/** A document over MAX_DOCUMENT_LENGTH is refused before Apollo hashes and lexes it (GET or POST). */
const refuseLongDocuments: RequestHandler = (req, res, next) => {
  const body = req.body as { query?: unknown } | undefined;
  const query = body?.query ?? (req.query as { query?: unknown } | undefined)?.query;
  if (typeof query === 'string' && query.length > MAX_DOCUMENT_LENGTH) {
    res
      .status(400)
      .json({ errors: [{ message: DOCUMENT_TOO_LONG_MESSAGE, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }] });
    return;
  }
  next();
};

/** GraphQL over HTTP (Apollo Server); subscriptions are refused here with a pointer to graphql-ws and graphql-sse. */
export async function serveGraphQLOverHttp(
  httpServer: http.Server,
  schema: GraphQLSchema,
  rules: GraphQLRules,
  services: RequestServices,
  onDrain: () => Promise<void>,
): Promise<GraphQLOverHttp> {
  const apollo = new ApolloServer<GraphQLContext>({
    // The schema, with queries executed compiled (graphql-jit): see compiled-queries.ts.
    gateway: compiledQueriesGateway(schema),
    // main.ts owns signal handling and the shutdown order (HTTP, WebSockets, then the database).
    stopOnTerminationSignals: false,
    // Introspection is refused in production by rules.validationRules (graphql's NoSchemaIntrospectionCustomRule),
    // the rule graphql-ws applies too; Apollo's own switch would add a second, differently worded one.
    introspection: true,
    // Automatic persisted queries are off: no client of ours sends them (dashboards POST the query text), and with them
    // on a wrong hash answered 400 INTERNAL_SERVER_ERROR and every new hash took room in a server-side cache. A
    // request that carries one is answered PERSISTED_QUERY_NOT_SUPPORTED.
    persistedQueries: false,
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
      // Apollo's landing page loads Sandbox from a CDN (blank offline); browsers get our bundled GraphiQL instead
      // (browser-app.ts), and a GET without a query is an ordinary bad request.
      ApolloServerPluginLandingPageDisabled(),
      {
        async serverWillStart() {
          return {
            async drainServer() {
              await onDrain();
            },
          };
        },
      },
      {
        // agenthub_graphql_operation_duration_seconds, labelled by the operation's first root field (bounded by the
        // schema, unlike operation names clients choose), its type, and ok or the first error's code.
        async requestDidStart() {
          const started = process.hrtime.bigint();
          return {
            async willSendResponse({ operation, errors }) {
              const field = operation?.selectionSet.selections.find((selection) => selection.kind === Kind.FIELD);
              const code = errors?.[0]?.extensions?.code;
              graphqlOperationDuration.observe(
                {
                  operation: field?.kind === Kind.FIELD ? field.name.value : 'none',
                  type: operation?.operation ?? 'none',
                  outcome: errors?.length ? (typeof code === 'string' ? code : 'error') : 'ok',
                },
                Number(process.hrtime.bigint() - started) / 1e9,
              );
            },
          };
        },
      },
      {
        async requestDidStart() {
          return {
            // Variables arrive already parsed (a GET query string, or a body parsed before our reviver could see it
            // in another transport): hold them to the same text rule as JSON bodies and string literals.
            async didResolveOperation({ request, operation, document, schema: operationSchema }) {
              if (operation?.operation === 'subscription') {
                throw new GraphQLError(
                  'Subscriptions are served over WebSocket (graphql-ws) at this same /graphql path, or as Server-Sent ' +
                    'Events (graphql-sse) at /graphql/stream; not by POST /graphql',
                  { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } },
                );
              }
              const invalid = variablesError(rules, operationSchema, document, request.variables);
              if (invalid) {
                throw invalid;
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

  const handlers: RequestHandler[] = [
    // The token before the body: an anonymous request is answered 401 without its body being read.
    authenticateFirst(services.verify),
    // Large enough for a 10,000-event recordUsage batch.
    jsonBody('16mb'),
    refuseLongDocuments,
    expressMiddleware(apollo, {
      context: async ({ res }): Promise<GraphQLContext> =>
        services.context(identityOf(res).caller, res.locals.log as Logger, res.locals.requestId as string),
    }),
  ];
  return { handlers, stop: () => apollo.stop() };
}

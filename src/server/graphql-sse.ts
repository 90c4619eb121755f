import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { jsonBody } from '../http/json-body';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { GraphQLError, getOperationAST } from 'graphql';
import type { GraphQLSchema } from 'graphql';
import { createHandler } from 'graphql-sse/lib/use/express';
import type { ExecutionResult, Response as SseResponse } from 'graphql-sse';
import type { GraphQLContext } from '../resolvers/context';
import type { GraphQLRules } from '../resolvers/graphql-rules';
import { formatErrors, logUnexpectedErrors, prepareOperation, variablesError } from '../resolvers/graphql-rules';
import type { RequestServices } from './request-services';
import { authenticateFirst, identityOf } from './authenticate-first';
import type { StreamIdentity } from './stream-auth';
import { sharedJson } from './shared-subscription';
import type { SharedSubscriptions } from './shared-subscription';
import { guardStream, sleepUntil } from './stream-guard';
import type { GuardedStream } from './stream-guard';
import { variablesTooLarge } from './stream-limits';
import type { StreamConnection, StreamLimits, SubscriptionSlot } from './stream-limits';

/** Where the subscription is served over Server-Sent Events. */
export const SSE_PATH = '/graphql/stream';

// graphql-sse wants an index signature on the context type; ours is an interface.
type SseContext = GraphQLContext & Record<PropertyKey, unknown>;

/** What one SSE request carries between graphql-sse's hooks (kept in `res.locals`). */
interface StreamState {
  identity: StreamIdentity;
  connection: StreamConnection;
  slot?: SubscriptionSlot;
}

export interface GraphQLOverSse {
  /** Mount at SSE_PATH, ahead of `/graphql`. */
  handlers: RequestHandler[];
  /** Ends every open stream (each gets its `complete` event): run while draining, beside the WebSocket side. */
  dispose(): Promise<void>;
}

/** A refusal before the stream opens: an HTTP status and GraphQL errors, formatted as over `POST /graphql`. */
function refuse(rules: GraphQLRules, status: number, errors: GraphQLError[], headers = {}): SseResponse {
  return [
    JSON.stringify({ errors: formatErrors(rules, errors) }),
    {
      status,
      statusText: STATUS_CODES[status] ?? '',
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    },
  ];
}

const error = (message: string, code: string): GraphQLError => new GraphQLError(message, { extensions: { code } });

/**
 * The subscription over Server-Sent Events (graphql-sse, "distinct connections" mode: one operation per request,
 * `POST` with a JSON body or `GET` with the operation in the query string, `Accept: text/event-stream`), for
 * dashboards behind proxies that drop WebSockets. The same token (`Authorization` header), rules, error formatting
 * and bounds as graphql-ws: the stream counts as a connection and its subscription against the user's cap, and it
 * ends with an UNAUTHENTICATED event when the token expires. Queries and mutations stay on `POST /graphql`.
 */
export function serveGraphQLOverSse(
  schema: GraphQLSchema,
  rules: GraphQLRules,
  services: RequestServices,
  limits: StreamLimits,
  shared: SharedSubscriptions,
): GraphQLOverSse {
  const { verify, logger, clock } = services;
  const settings = services.config.subscriptions;
  const open = new Set<GuardedStream<unknown>>();
  const stateOf = (res: Response): StreamState => res.locals.stream as StreamState;

  const handler = createHandler<SseContext>({
    schema,
    // Each event executed and formatted once per distinct selection, shared with the WebSocket side (graphql-sse
    // still serialises it per stream).
    subscribe: shared.subscribe,
    // prepareOperation (in onSubscribe) has validated the document under the rules; once is enough.
    validate: () => [],
    authenticate: async (req) => {
      const { res } = req.context;
      if (req.headers.get('accept') !== 'text/event-stream') {
        return refuse(rules, 406, [
          error(`${SSE_PATH} answers with an event stream: send Accept: text/event-stream`, 'BAD_REQUEST'),
        ]);
      }
      // authenticateFirst has verified the token, before the body was read.
      const identity = identityOf(res);
      const connection = limits.connect();
      if (!connection) {
        return refuse(
          rules,
          503,
          [
            error(
              `Too many connections on this instance (at most ${settings.maxConnections}); try again later`,
              'TOO_MANY_CONNECTIONS',
            ),
          ],
          { 'retry-after': '5' },
        );
      }
      // The stream's place and its subscription are given back when the response closes, however it closes.
      res.once('close', () => connection.close());
      res.locals.stream = { identity, connection } satisfies StreamState;
      // null: no "single connection mode" (streams reserved by PUT under a token); every request is one operation.
      return null;
    },
    onSubscribe: (req, params) => {
      const state = stateOf(req.context.res);
      const tooLarge = variablesTooLarge(params.variables, settings.maxVariablesBytes);
      if (tooLarge) {
        return refuse(rules, 413, [tooLarge]);
      }
      const document = prepareOperation(rules, schema, params);
      if (Array.isArray(document)) {
        return refuse(rules, 400, document);
      }
      const invalid = variablesError(rules, schema, document, params.variables);
      if (invalid) {
        return refuse(rules, 400, [invalid]);
      }
      if (getOperationAST(document, params.operationName)?.operation !== 'subscription') {
        return refuse(rules, 400, [
          error(`${SSE_PATH} serves subscriptions; send queries and mutations to POST /graphql`, 'BAD_REQUEST'),
        ]);
      }
      const slot = state.connection.subscribe(state.identity.caller.userId);
      if (slot instanceof GraphQLError) {
        return refuse(rules, 429, [slot]);
      }
      state.slot = slot;
      const requestId = (req.context.res.locals.requestId as string | undefined) ?? randomUUID();
      return {
        schema,
        document,
        variableValues: params.variables,
        operationName: params.operationName,
        contextValue: services.context(
          state.identity.caller,
          logger.child({ requestId, transport: 'sse' }),
          requestId,
          { subscription: true },
        ) as SseContext,
      };
    },
    onOperation: (_ctx, req, _args, result) => {
      const { identity, slot } = stateOf(req.context.res);
      if (!(Symbol.asyncIterator in Object(result))) {
        // Refused at setup (NOT_FOUND, FORBIDDEN): one result, then the stream ends.
        slot?.release();
        return undefined;
      }
      const expiry = new AbortController();
      const expired: ExecutionResult = {
        errors: [new GraphQLError('Token has expired', { extensions: { code: 'UNAUTHENTICATED' } })],
      };
      const ending =
        identity.expiresAt === undefined
          ? undefined
          : sleepUntil(clock, identity.expiresAt, expiry.signal).then((reached) =>
              reached ? expired : new Promise<never>(() => undefined),
            );
      const stream = guardStream(result as AsyncIterable<ExecutionResult>, {
        ending,
        onEnd: () => {
          expiry.abort();
          slot?.release();
          open.delete(stream);
        },
      });
      open.add(stream);
      return stream;
    },
    onNext: (ctx, _req, result) => {
      // A shared event result is formatted already (once per selection).
      if (!result.errors || sharedJson(result) !== undefined) {
        return undefined;
      }
      const errors = result.errors as readonly GraphQLError[];
      logUnexpectedErrors(ctx.log, errors);
      // graphql-sse only serialises the result: formatted errors in place of the originals.
      return { ...result, errors: formatErrors(rules, errors) } as unknown as ExecutionResult;
    },
  });

  return {
    handlers: [
      // The token before the body: an anonymous request is answered 401 without its body being read.
      authenticateFirst(verify),
      jsonBody(settings.wsMaxPayloadBytes),
      (req: Request, res: Response, next: NextFunction) => {
        // A POST body the JSON parser did not take (another content type) is refused before graphql-sse would read it
        // unbounded.
        if (req.method === 'POST' && req.body === undefined) {
          res.status(415).json({ errors: [{ message: 'Send a JSON body', extensions: { code: 'BAD_REQUEST' } }] });
          return;
        }
        handler(req, res).catch((failure: unknown) => {
          if (!res.headersSent) {
            next(failure);
            return;
          }
          (res.locals.log as GraphQLContext['log']).error({ err: failure }, 'event stream failed');
          res.end();
        });
      },
    ],
    dispose: async () => {
      await Promise.all([...open].map((stream) => stream.return(undefined)));
    },
  };
}

import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { ExecutionArgs, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { authenticate } from '../http/authenticate';
import type { GraphQLContext } from '../resolvers/context';
import type { GraphQLRules } from '../resolvers/graphql-rules';
import { formatErrors, logUnexpectedErrors, prepareOperation } from '../resolvers/graphql-rules';
import { unstorableVariablesError } from '../schema/storable-text';
import type { Caller } from '../services/customers/caller';
import { DomainError } from '../services/shared/errors';
import type { RequestServices } from './request-services';

// A type alias (not an interface) so it satisfies graphql-ws's Record constraint.
type WsExtra = { caller?: Caller };

export interface GraphQLWebSocket {
  /** Ends every operation (graphql-ws's dispose): run while draining. */
  dispose(): Promise<void>;
  /** Drops the remaining sockets and stops accepting upgrades. */
  close(): Promise<void>;
}

/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server's `/graphql` path: the token comes in `connection_init`,
 * and operations follow the same rules (limits, introspection, text, error formatting) as over HTTP.
 */
export function serveGraphQLOverWebSocket(
  httpServer: http.Server,
  schema: GraphQLSchema,
  rules: GraphQLRules,
  services: RequestServices,
): GraphQLWebSocket {
  const { verify, logger } = services;
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const cleanup = useServer<Record<string, unknown> | undefined, WsExtra>(
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
        const contextValue: GraphQLContext = services.context(
          ctx.extra.caller as Caller,
          logger.child({ requestId, transport: 'ws' }),
          requestId,
        );
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
  return {
    dispose: async () => {
      await cleanup.dispose();
    },
    async close() {
      for (const client of wsServer.clients) {
        client.terminate();
      }
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

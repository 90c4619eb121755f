import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST } from 'graphql';
import type { ExecutionArgs, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import type { GraphQLContext } from '../resolvers/context';
import type { GraphQLRules } from '../resolvers/graphql-rules';
import { formatErrors, logUnexpectedErrors, prepareOperation, variablesError } from '../resolvers/graphql-rules';
import { DomainError } from '../services/shared/errors';
import type { RequestServices } from './request-services';
import { authenticateStream } from './stream-auth';
import type { StreamIdentity } from './stream-auth';
import { guardStream, sleepUntil } from './stream-guard';
import { jsonBytes, variablesTooLarge } from './stream-limits';
import type { StreamConnection, StreamLimits, SubscriptionSlot } from './stream-limits';

/** RFC 6455 "Try Again Later": the instance holds as many connections as it may; graphql-ws clients retry it. */
export const CLOSE_TRY_AGAIN_LATER = 1013;

// A type alias (not an interface) so it satisfies graphql-ws's Record constraint.
type WsExtra = {
  identity?: StreamIdentity;
  /** Ends the wait for the token's expiry when the socket closes first. */
  expiry?: AbortController;
  /** Slots reserved by onSubscribe, handed to the operation's stream by onOperation. */
  reserved?: Map<string, SubscriptionSlot>;
};

export interface GraphQLWebSocket {
  /** Ends every operation (graphql-ws's dispose): run while draining. */
  dispose(): Promise<void>;
  /** Drops the remaining sockets and stops accepting upgrades. */
  close(): Promise<void>;
}

/** A close reason fits a control frame (123 bytes). */
function closeReason(text: string): string {
  return Buffer.from(text).subarray(0, 123).toString();
}

/**
 * GraphQL over WebSocket (graphql-ws) on the HTTP server's `/graphql` path: the token comes in `connection_init`,
 * and operations follow the same rules (limits, introspection, text, error formatting) as over HTTP. Bounded
 * (`SUBSCRIPTION_*`, `WS_*`): the message size (1009), the connection_init payload (4400), connections per instance
 * (1013), variables and subscriptions per connection and per user (errors of that operation). The token is checked
 * again before every operation, and the socket is closed with 4401 when it expires.
 */
export function serveGraphQLOverWebSocket(
  httpServer: http.Server,
  schema: GraphQLSchema,
  rules: GraphQLRules,
  services: RequestServices,
  limits: StreamLimits,
): GraphQLWebSocket {
  const { verify, logger, clock } = services;
  const settings = services.config.subscriptions;
  // ws refuses a larger frame from its header (close 1009) before buffering it.
  const wsServer = new WebSocketServer({ noServer: true, path: '/graphql', maxPayload: settings.wsMaxPayloadBytes });
  const connections = new WeakMap<WebSocket, StreamConnection>();

  // The upgrade is handled here rather than by ws's `server` option, so a socket over the cap is closed with a reason
  // before graphql-ws ever sees it. A path other than /graphql is refused by handleUpgrade (400), as before.
  const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    wsServer.handleUpgrade(request, socket, head, (ws) => {
      const connection = limits.connect();
      if (!connection) {
        ws.close(
          CLOSE_TRY_AGAIN_LATER,
          `Too many connections on this instance (at most ${settings.maxConnections}); try again later`,
        );
        return;
      }
      connections.set(ws, connection);
      ws.once('close', () => connection.close());
      wsServer.emit('connection', ws, request);
      // ws emits 'error' for what a client sent wrong (a frame over maxPayload: 1009, a protocol error: 1002) after
      // it has begun closing with that code. graphql-ws would print it with console.error as an internal error of
      // the server (and try 4500): any client could fill the logs. Logged here as what it is.
      ws.removeAllListeners('error');
      ws.on('error', (err) => logger.debug({ err }, 'WebSocket closed for a client error'));
    });
  };
  httpServer.on('upgrade', onUpgrade);

  const cleanup = useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      schema,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        const initBytes = jsonBytes(ctx.connectionParams);
        if (initBytes > settings.wsMaxInitPayloadBytes) {
          socket.close(
            CloseCode.BadRequest,
            `connection_init payload too large: ${initBytes} bytes, at most ${settings.wsMaxInitPayloadBytes}`,
          );
          return false;
        }
        const params = ctx.connectionParams ?? {};
        const header =
          params.authorization ?? params.Authorization ?? (params.token ? `Bearer ${String(params.token)}` : undefined);
        let identity: StreamIdentity;
        try {
          identity = await authenticateStream(verify, header);
        } catch (error) {
          const reason = error instanceof DomainError ? error.message : 'Unauthenticated';
          socket.close(CloseCode.Unauthorized, closeReason(reason));
          return false;
        }
        ctx.extra.identity = identity;
        if (identity.expiresAt !== undefined) {
          const expiry = new AbortController();
          ctx.extra.expiry = expiry;
          void sleepUntil(clock, identity.expiresAt, expiry.signal).then((expired) => {
            if (expired) {
              socket.close(CloseCode.Unauthorized, 'Token has expired');
            }
          });
        }
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const identity = ctx.extra.identity as StreamIdentity;
        // The token again, on the server's clock: an operation never runs on a token that has expired (or is no
        // longer accepted) since connection_init, whether or not the expiry timer has closed the socket yet.
        try {
          await verify(identity.token);
        } catch (error) {
          const reason = error instanceof DomainError ? error.message : 'Unauthenticated';
          ctx.extra.socket.close(CloseCode.Unauthorized, closeReason(reason));
          return [new GraphQLError(reason, { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        const tooLarge = variablesTooLarge(payload.variables, settings.maxVariablesBytes);
        if (tooLarge) {
          return [tooLarge];
        }
        // Parse and validation errors go to onError, which formats them.
        const document = prepareOperation(rules, schema, payload);
        if (Array.isArray(document)) {
          return document;
        }
        const invalid = variablesError(rules, schema, document, payload.variables);
        if (invalid) {
          return [invalid];
        }
        if (getOperationAST(document, payload.operationName)?.operation === 'subscription') {
          const slot = connections.get(ctx.extra.socket)?.subscribe(identity.caller.userId);
          if (slot instanceof GraphQLError) {
            return [slot];
          }
          if (slot) {
            (ctx.extra.reserved ??= new Map()).set(id, slot);
          }
        }
        const requestId = randomUUID();
        const contextValue: GraphQLContext = services.context(
          identity.caller,
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
      // A subscription holds its slot while its stream runs: given back when it ends, however it ends (completed by
      // the client, failed, or the socket closed); a subscription refused at setup (NOT_FOUND…) at once.
      onOperation: (ctx, id, _payload, _args, result) => {
        const slot = ctx.extra.reserved?.get(id);
        ctx.extra.reserved?.delete(id);
        if (!slot) {
          return undefined;
        }
        if (Symbol.asyncIterator in Object(result)) {
          return guardStream(result as AsyncIterable<never>, { onEnd: () => slot.release() });
        }
        slot.release();
        return undefined;
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
      onClose: (ctx) => {
        ctx.extra.expiry?.abort();
        // Slots reserved by an operation that never reached onOperation; the connection gives back the rest.
        for (const slot of ctx.extra.reserved?.values() ?? []) {
          slot.release();
        }
      },
    },
    wsServer,
  );
  return {
    dispose: async () => {
      httpServer.off('upgrade', onUpgrade);
      await cleanup.dispose();
    },
    async close() {
      httpServer.off('upgrade', onUpgrade);
      for (const client of wsServer.clients) {
        client.terminate();
      }
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

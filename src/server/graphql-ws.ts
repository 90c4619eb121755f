import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { GraphQLError, getOperationAST } from 'graphql';
import type { ExecutionArgs, GraphQLSchema } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import WebSocket, { WebSocketServer } from 'ws';
import { jsonTextNestsDeeper } from '../lib/json-depth';
import { MAX_JSON_DEPTH } from '../schema/limits';
import type { GraphQLContext } from '../resolvers/context';
import type { GraphQLRules } from '../resolvers/graphql-rules';
import { formatErrors, logUnexpectedErrors, prepareOperation, variablesError } from '../resolvers/graphql-rules';
import { DomainError } from '../services/shared/errors';
import type { RequestServices } from './request-services';
import { authenticateStream } from './stream-auth';
import type { StreamIdentity } from './stream-auth';
import { SharedStream, sharedJson } from './shared-subscription';
import type { SharedSubscriptions } from './shared-subscription';
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

/**
 * A subscription's events written straight to its socket: the `next` message is the shared JSON of the event's
 * result (serialised once per selection) inside this operation's envelope, so a fan-out to thousands of subscribers
 * costs a string concatenation and a write each, not an execution and a JSON.stringify each. Nothing is yielded to
 * graphql-ws: the stream ends (and graphql-ws sends `complete`) when the subscription does, and after the client's
 * `complete` or the socket's close (`return`) nothing more is written.
 */
function sendFrames(
  stream: SharedStream,
  socket: WebSocket,
  id: string,
  send: (socket: WebSocket, frame: string) => void,
): AsyncIterableIterator<never> {
  const envelope = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  let ended = false;
  const done: IteratorReturnResult<undefined> = { done: true, value: undefined };
  const frames: AsyncIterableIterator<never> = {
    async next() {
      if (!ended) {
        await stream.forEach((result) => {
          if (!ended && socket.readyState === socket.OPEN) {
            send(socket, `${envelope}${sharedJson(result) as string}}`);
          }
        });
      }
      return done;
    },
    async return() {
      ended = true;
      await stream.return();
      return done;
    },
    async throw(error: unknown) {
      ended = true;
      await stream.return();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return frames;
    },
  };
  return frames;
}

/**
 * A socket whose messages nesting deeper than MAX_JSON_DEPTH never reach graphql-ws: it parses every message and
 * echoes a ping's payload with JSON.stringify, which overflowed the stack on a few thousand levels (close 4500). Such
 * a message closes the socket with 4400, as any message graphql-ws cannot read does.
 */
class BoundedWebSocket extends WebSocket {
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && Buffer.isBuffer(args[0]) && jsonTextNestsDeeper(args[0], MAX_JSON_DEPTH)) {
      this.close(CloseCode.BadRequest, `Invalid message received: nests deeper than ${MAX_JSON_DEPTH} levels`);
      return true;
    }
    return super.emit(event, ...args);
  }
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
  shared: SharedSubscriptions,
): GraphQLWebSocket {
  const { verify, logger, clock } = services;
  const settings = services.config.subscriptions;
  // ws refuses a larger frame from its header (close 1009) before buffering it.
  const wsServer = new WebSocketServer({
    noServer: true,
    path: '/graphql',
    maxPayload: settings.wsMaxPayloadBytes,
    WebSocket: BoundedWebSocket,
  });
  const connections = new WeakMap<WebSocket, StreamConnection>();
  // The TCP socket under each WebSocket, and those holding their writes until the event loop turns.
  const transports = new WeakMap<WebSocket, Duplex>();
  const corked = new Set<Duplex>();
  /**
   * A fan-out writes hundreds of frames to one socket in one turn of the event loop (a socket carries many
   * subscriptions): corked, they leave in one system call instead of one each (which cost more than everything else
   * of a fan-out together). Uncorked when the event loop turns, so a frame waits at most one slice of the fan-out.
   */
  const sendBatched = (ws: WebSocket, frame: string): void => {
    const transport = transports.get(ws);
    if (transport && !corked.has(transport)) {
      corked.add(transport);
      transport.cork();
      setImmediate(() => {
        corked.delete(transport);
        transport.uncork();
      });
    }
    ws.send(frame);
  };

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
      transports.set(ws, socket);
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
      // Each event executed once per distinct selection; sent below as the same JSON text to all its subscribers.
      subscribe: shared.subscribe,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        const initBytes = jsonBytes(ctx.connectionParams);
        if (initBytes > settings.wsMaxInitPayloadBytes) {
          socket.close(
            CloseCode.BadRequest,
            Number.isFinite(initBytes)
              ? `connection_init payload too large: ${initBytes} bytes, at most ${settings.wsMaxInitPayloadBytes}`
              : 'connection_init payload nests too deep',
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
        const subscription = getOperationAST(document, payload.operationName)?.operation === 'subscription';
        if (subscription) {
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
          { subscription },
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
        const stream = result instanceof SharedStream ? sendFrames(result, ctx.extra.socket, id, sendBatched) : result;
        if (!slot) {
          return stream === result ? undefined : stream;
        }
        if (Symbol.asyncIterator in Object(stream)) {
          return guardStream(stream as AsyncIterable<never>, { onEnd: () => slot.release() });
        }
        slot.release();
        return undefined;
      },
      // Results, including a subscription's setup errors (e.g. NOT_FOUND): formatted as over HTTP. (Events of a
      // subscription were formatted once per selection and never come here.)
      onNext: (_ctx, _id, _payload, args, result) => {
        if (!result.errors || sharedJson(result) !== undefined) {
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

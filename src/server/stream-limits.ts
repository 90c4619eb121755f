import { GraphQLError } from 'graphql';
import type { SubscriptionSettings } from '../config/config';
import { valueNestsDeeper } from '../lib/json-depth';
import { JSON_TOO_DEEP_MESSAGE, MAX_JSON_DEPTH } from '../schema/limits';

/** One open subscription's place under the caps; `release` gives it back (once, however often it is called). */
export interface SubscriptionSlot {
  release(): void;
}

/**
 * What one connection (a WebSocket from its handshake on, or an SSE stream) holds: its place under the instance's
 * cap and its subscriptions, given back together when it closes.
 */
export class StreamConnection {
  private readonly slots = new Set<SubscriptionSlot>();

  constructor(private readonly limits: StreamLimits) {}

  get subscriptions(): number {
    return this.slots.size;
  }

  /** A slot for one more subscription of `userId`, or the error that refuses it (`TOO_MANY_SUBSCRIPTIONS`). */
  subscribe(userId: string): SubscriptionSlot | GraphQLError {
    const { maxPerConnection } = this.limits.settings;
    if (this.slots.size >= maxPerConnection) {
      return tooManySubscriptions('connection', maxPerConnection);
    }
    const userSlot = this.limits.reserveForUser(userId);
    if (userSlot instanceof GraphQLError) {
      return userSlot;
    }
    const slot: SubscriptionSlot = {
      release: () => {
        if (this.slots.delete(slot)) {
          userSlot.release();
        }
      },
    };
    this.slots.add(slot);
    return slot;
  }

  /** Gives back every slot and the connection's own place. */
  close(): void {
    for (const slot of [...this.slots]) {
      slot.release();
    }
    this.limits.connectionClosed(this);
  }
}

/**
 * The bounds of the streaming transports (graphql-ws and graphql-sse), per instance: open connections, subscriptions
 * per connection and per user (token `sub`), counted across both transports. Everything counted is given back when
 * its subscription ends or its connection closes, so a closed socket holds nothing.
 */
export class StreamLimits {
  private readonly open = new Set<StreamConnection>();
  private readonly perUser = new Map<string, number>();

  constructor(readonly settings: SubscriptionSettings) {}

  /** A new connection, or undefined when the instance holds `maxConnections` already. */
  connect(): StreamConnection | undefined {
    if (this.open.size >= this.settings.maxConnections) {
      return undefined;
    }
    const connection = new StreamConnection(this);
    this.open.add(connection);
    return connection;
  }

  /** Open connections and subscriptions counted now (tests check both return to 0). */
  get counts(): { connections: number; subscriptions: number } {
    let subscriptions = 0;
    for (const count of this.perUser.values()) {
      subscriptions += count;
    }
    return { connections: this.open.size, subscriptions };
  }

  /** @internal StreamConnection's side of a subscription. */
  reserveForUser(userId: string): SubscriptionSlot | GraphQLError {
    const held = this.perUser.get(userId) ?? 0;
    if (held >= this.settings.maxPerUser) {
      return tooManySubscriptions('user', this.settings.maxPerUser);
    }
    this.perUser.set(userId, held + 1);
    let released = false;
    return {
      release: () => {
        if (released) {
          return;
        }
        released = true;
        const left = (this.perUser.get(userId) ?? 1) - 1;
        // No entry per user who once subscribed: the map shrinks back as users leave.
        if (left > 0) {
          this.perUser.set(userId, left);
        } else {
          this.perUser.delete(userId);
        }
      },
    };
  }

  /** @internal */
  connectionClosed(connection: StreamConnection): void {
    this.open.delete(connection);
  }
}

function tooManySubscriptions(scope: 'connection' | 'user', max: number): GraphQLError {
  const where = scope === 'connection' ? 'on this connection' : 'for this user on this instance';
  return new GraphQLError(`Too many subscriptions open ${where} (at most ${max}); complete one first`, {
    extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: scope, max, http: { status: 429 } },
  });
}

/**
 * Size of a value as the JSON it came in (bounded by the message or body limit that let it in); Infinity when it
 * nests deeper than MAX_JSON_DEPTH, which JSON.stringify would overflow the stack on.
 */
export function jsonBytes(value: unknown): number {
  if (value === undefined || value === null) {
    return 0;
  }
  return valueNestsDeeper(value, MAX_JSON_DEPTH) ? Infinity : Buffer.byteLength(JSON.stringify(value));
}

/**
 * Variables nesting deeper than MAX_JSON_DEPTH or larger than `max` bytes of JSON: refused before any work
 * (`BAD_REQUEST`, HTTP 413 over SSE).
 */
export function variablesTooLarge(variables: unknown, max: number): GraphQLError | undefined {
  if (valueNestsDeeper(variables, MAX_JSON_DEPTH)) {
    return new GraphQLError(`Variables too deep: ${JSON_TOO_DEEP_MESSAGE}`, {
      extensions: { code: 'BAD_REQUEST', limit: 'depth', max: MAX_JSON_DEPTH, http: { status: 400 } },
    });
  }
  const bytes = jsonBytes(variables);
  if (bytes <= max) {
    return undefined;
  }
  return new GraphQLError(
    `Variables too large: ${bytes} bytes of JSON, at most ${max} over WebSocket and Server-Sent Events ` +
      '(send large batches such as recordUsage to POST /graphql)',
    { extensions: { code: 'BAD_REQUEST', limit: 'variables', max, http: { status: 413 } } },
  );
}

/**
 * Failures a service raises that are not business outcomes: the caller is unknown, may not do this, asked for
 * something that does not exist (or that they may not see), or sent input that cannot be valid. Each carries the
 * GraphQL `extensions.code` it maps to; the mapping to GraphQL errors happens in one place
 * (`src/resolvers/format-error.ts`). Business outcomes (declined card, wrong invoice state) are union members instead.
 */
/** How much of a refused value a message may quote. */
export const QUOTE_MAX = 40;

/**
 * A value the client sent, quoted for a message: at most its first QUOTE_MAX characters, so an error never echoes a
 * long input back (a 10 MB id came back whole in its NOT_FOUND message).
 */
export function quote(value: unknown): string {
  const text = String(value);
  return text.length > QUOTE_MAX ? `"${text.slice(0, QUOTE_MAX)}…" (${text.length} characters)` : `"${text}"`;
}

export abstract class DomainError extends Error {
  abstract readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_USER_INPUT' | 'SERVICE_UNAVAILABLE';
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'Authentication required: send Authorization: Bearer <token>') {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(message = 'You are not allowed to do this') {
    super(message);
    this.name = 'ForbiddenError';
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class BadInputError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'BadInputError';
  }
}

/**
 * Something the request needs is away for now (the database, the usage queue): nothing was decided, so the same
 * request sent again later is the remedy. REST answers 503 with `Retry-After`; GraphQL `SERVICE_UNAVAILABLE`.
 */
export class ServiceUnavailableError extends DomainError {
  readonly code = 'SERVICE_UNAVAILABLE';
  constructor(
    message = 'The service is temporarily unavailable; send the same request again shortly',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServiceUnavailableError';
  }
}

/** Network failures of a client whose server went away or cannot be reached. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
/** PostgreSQL's "connection exception" class and the server shutting down or not yet accepting connections. */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123])$/;
/** What node-postgres, its pool and knex say when a connection is lost or none can be had (they set no code). */
const LOST_CONNECTION =
  /^(Connection terminated|Connection ended unexpectedly|Client has encountered a connection error|Knex: Timeout acquiring a connection|timeout exceeded when trying to connect)/;

/**
 * True when `error` (or an error it wraps) says the database or another service we depend on is unreachable, as
 * opposed to a bug or a refused statement: such a request is answered "unavailable, retry", not "internal error".
 */
export function isDependencyUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 5 || typeof error !== 'object' || error === null) {
    return false;
  }
  if (error instanceof ServiceUnavailableError) {
    return true;
  }
  const { code, name, message, cause } = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    cause?: unknown;
  };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) {
    return true;
  }
  if (name === 'KnexTimeoutError' || name === 'ConnectionException') {
    return true;
  }
  if (typeof message === 'string' && LOST_CONNECTION.test(message)) {
    return true;
  }
  return isDependencyUnavailable(cause, depth + 1);
}

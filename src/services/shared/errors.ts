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
  abstract readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_USER_INPUT';
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

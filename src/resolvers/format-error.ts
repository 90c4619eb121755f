import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DomainError, isDependencyUnavailable } from '../services/shared/errors';

const CLIENT_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * The longest message sent: graphql's own messages quote names from the document ("Cannot query field …") whole, and
 * a document may be megabytes; past this a message is cut, so no error echoes more than a prefix of what it refuses.
 */
export const MAX_MESSAGE_LENGTH = 500;

function bounded(message: string): string {
  return message.length > MAX_MESSAGE_LENGTH ? `${message.slice(0, MAX_MESSAGE_LENGTH)}… (message cut)` : message;
}

/** graphql-js appends its suggestions to the end of a message; the same pattern Apollo's DisableSuggestions strips. */
const SUGGESTION = / ?Did you mean(.+?)\?$/;

/** True for a failure nobody planned for (not a domain error, not a GraphQL error of the client's): log it. */
export function isUnexpectedError(error: GraphQLError): boolean {
  const original = error.originalError;
  return original !== undefined && !(original instanceof DomainError) && !(original instanceof GraphQLError);
}

/**
 * The one place that turns failures into GraphQL errors, for HTTP and WebSocket alike. Domain errors keep their
 * message and get their code; anything unexpected becomes INTERNAL_SERVER_ERROR with a generic message (the original
 * is logged, never sent), and stack traces are sent only for unexpected errors in development (never for the
 * client's own mistakes). With `hideSchemaDetails` the client's mistakes lose graphql's "Did you mean …?"
 * suggestions, which would name fields, arguments and enum values of the schema.
 */
export function createErrorFormatter(options: { exposeDetails: boolean; hideSchemaDetails?: boolean }) {
  const format = (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    if (original instanceof DomainError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: original.code },
      };
    }
    if (isDependencyUnavailable(original)) {
      // The database (or the usage queue) is away: nothing was decided, the same request later is the remedy.
      return {
        message: 'The service is temporarily unavailable; send the same request again shortly',
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'SERVICE_UNAVAILABLE' },
      };
    }
    const code = String(formatted.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
    if (CLIENT_CODES.has(code) || (original instanceof GraphQLError && original.extensions?.code)) {
      // The client's own mistake: the message says it all; a server stack trace is noise, even in development.
      const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
      const message = options.hideSchemaDetails ? formatted.message.replace(SUGGESTION, '') : formatted.message;
      return { ...formatted, message, extensions: { ...extensions, code } };
    }
    if (options.exposeDetails) {
      return { ...formatted, extensions: { ...formatted.extensions, code: 'INTERNAL_SERVER_ERROR' } };
    }
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = format(formatted, error);
    return { ...result, message: bounded(result.message) };
  };
}

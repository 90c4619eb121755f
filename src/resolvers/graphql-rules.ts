import {
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import type { DocumentNode, GraphQLFormattedError, GraphQLSchema, ParseOptions, ValidationRule } from 'graphql';
import type { NodeEnv } from '../config/config';
import type { Logger } from '../config/logger';
import { valueNestsDeeper } from '../lib/json-depth';
import {
  DOCUMENT_TOO_LONG_MESSAGE,
  JSON_TOO_DEEP_MESSAGE,
  MAX_DOCUMENT_LENGTH,
  MAX_JSON_DEPTH,
  MAX_TOKENS,
  operationLimitsRule,
} from '../schema/limits';
import { storableTextRule, unstorableVariablesError } from '../schema/storable-text';
import { oversizedVariablesError, textLengthRule } from '../schema/text-limits';
import type { TextLimits } from '../schema/text-limits';
import { createErrorFormatter, isUnexpectedError } from './format-error';

/**
 * What a client may ask of the GraphQL API and learn from its errors: ONE definition, applied by Apollo Server
 * (HTTP) and by graphql-ws (WebSocket) alike. Everywhere: the token cap, the operation limits and the error mapping
 * of `createErrorFormatter`. In production: no introspection (graphql's NoSchemaIntrospectionCustomRule), no
 * "Did you mean …?" suggestions, unexpected errors hidden behind INTERNAL_SERVER_ERROR. Stack traces of unexpected
 * errors in development only.
 */
export interface GraphQLRules {
  parseOptions: ParseOptions;
  /** Run after graphql's specified rules. */
  validationRules: ValidationRule[];
  hideSchemaDetails: boolean;
  includeStacktrace: boolean;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The bounds of every string argument, literal (a validation rule) or variable (`variablesError`). */
  textLimits: TextLimits;
}

export function graphqlRules(nodeEnv: NodeEnv, textLimits: TextLimits): GraphQLRules {
  const production = nodeEnv === 'production';
  const development = nodeEnv === 'development';
  return {
    parseOptions: { maxTokens: MAX_TOKENS },
    validationRules: [
      ...(production ? [NoSchemaIntrospectionCustomRule] : []),
      operationLimitsRule(),
      storableTextRule(),
      textLengthRule(textLimits),
    ],
    hideSchemaDetails: production,
    includeStacktrace: development,
    formatError: createErrorFormatter({ exposeDetails: development, hideSchemaDetails: production }),
    textLimits,
  };
}

/**
 * The variables of a validated operation held to the rules the literals met (storable text, string bounds), before
 * execution coerces them: the error to answer (BAD_USER_INPUT), or null. Every transport calls it.
 */
export function variablesError(
  rules: GraphQLRules,
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | null | undefined,
): GraphQLError | null {
  // Depth first (the checks after it recurse), then lengths: refusing a 10 MB string costs nothing, scanning it for
  // unstorable characters does.
  if (valueNestsDeeper(variables, MAX_JSON_DEPTH)) {
    return new GraphQLError(`Variables too deep: ${JSON_TOO_DEEP_MESSAGE}`, {
      extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
    });
  }
  return oversizedVariablesError(schema, document, variables, rules.textLimits) ?? unstorableVariablesError(variables);
}

// --- For transports other than Apollo Server (graphql-ws): the steps Apollo's request pipeline takes ----------------

/** The error again, with `extensions.code` (Apollo's SyntaxError, ValidationError, UserInputError…). */
function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError ?? error,
    extensions: { ...error.extensions, code },
  });
}

/** graphql's messages when `operationName` does not pick one operation (Apollo answers them from `execute`). */
function operationResolutionError(document: DocumentNode, operationName: string | null | undefined): GraphQLError {
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
  const message = operationName
    ? `Unknown operation named "${operationName}".`
    : operations > 1
      ? 'Must provide operation name if query contains multiple operations.'
      : 'Must provide an operation.';
  return new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
}

/**
 * Parses and validates an operation under the rules: the document, or the errors to answer (each with its code:
 * GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, OPERATION_RESOLUTION_FAILURE), still to be formatted.
 */
/**
 * Documents that passed parse and validation, per rule set, by query text and operation name: dashboards send the
 * same few operations, and thousands of open subscriptions then share one syntax tree instead of holding one each
 * (and skip parsing and validating it again). Only short queries, at most a few hundred, oldest dropped first.
 */
const preparedDocuments = new WeakMap<GraphQLRules, Map<string, DocumentNode>>();
const PREPARED_MAX = 500;
const PREPARED_QUERY_MAX_LENGTH = 8192;

export function prepareOperation(
  rules: GraphQLRules,
  schema: GraphQLSchema,
  request: { query: string; operationName?: string | null },
): DocumentNode | GraphQLError[] {
  if (typeof request.query !== 'string' || request.query.length > PREPARED_QUERY_MAX_LENGTH) {
    return prepareUncached(rules, schema, request);
  }
  let cache = preparedDocuments.get(rules);
  if (!cache) {
    cache = new Map();
    preparedDocuments.set(rules, cache);
  }
  const key = `${request.operationName ?? ''}\u0000${request.query}`;
  const cached = cache.get(key);
  if (cached) {
    return cached;
  }
  const prepared = prepareUncached(rules, schema, request);
  if (!Array.isArray(prepared)) {
    if (cache.size >= PREPARED_MAX) {
      cache.delete(cache.keys().next().value as string);
    }
    cache.set(key, prepared);
  }
  return prepared;
}

function prepareUncached(
  rules: GraphQLRules,
  schema: GraphQLSchema,
  request: { query: string; operationName?: string | null },
): DocumentNode | GraphQLError[] {
  if (request.query.length > MAX_DOCUMENT_LENGTH) {
    return [new GraphQLError(DOCUMENT_TOO_LONG_MESSAGE, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
  }
  let document: DocumentNode;
  try {
    document = parse(request.query, rules.parseOptions);
  } catch (error) {
    return [withCode(error instanceof GraphQLError ? error : new GraphQLError('Syntax error'), 'GRAPHQL_PARSE_FAILED')];
  }
  const invalid = validate(schema, document, [...specifiedRules, ...rules.validationRules]);
  if (invalid.length > 0) {
    return invalid.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
  }
  if (!getOperationAST(document, request.operationName)) {
    return [operationResolutionError(document, request.operationName)];
  }
  return document;
}

/** A variable the client sent that does not fit its type (the test Apollo uses to answer BAD_USER_INPUT). */
function isBadVariable(error: GraphQLError): boolean {
  const node = error.nodes?.length === 1 ? error.nodes[0] : undefined;
  if (node?.kind !== Kind.VARIABLE_DEFINITION || error.extensions.code !== undefined) {
    return false;
  }
  const variable = `Variable "$${node.variable.name.value}" `;
  return ['has invalid value', 'got invalid value ', 'of required type ', 'of non-null type '].some((rest) =>
    error.message.startsWith(variable + rest),
  );
}

/**
 * Errors as Apollo Server sends them: a code on every error (INTERNAL_SERVER_ERROR unless it has one), the stack
 * where the rules allow it, then `formatError`. A formatter that fails answers a generic error, never its own.
 */
export function formatErrors(rules: GraphQLRules, errors: readonly GraphQLError[]): GraphQLFormattedError[] {
  return errors.map((raw) => {
    const error = isBadVariable(raw) ? withCode(raw, 'BAD_USER_INPUT') : raw;
    const { http: _http, ...extensions } = error.extensions;
    const enriched: GraphQLFormattedError = {
      ...error.toJSON(),
      extensions: {
        ...extensions,
        code: extensions.code ?? 'INTERNAL_SERVER_ERROR',
        ...(rules.includeStacktrace ? { stacktrace: error.stack?.split('\n') } : {}),
      },
    };
    try {
      return rules.formatError(enriched, error);
    } catch {
      return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
  });
}

/** Logs the originals of unexpected errors (the client is sent a generic message); client mistakes are not logged. */
export function logUnexpectedErrors(log: Logger | undefined, errors: readonly GraphQLError[]): void {
  for (const error of errors) {
    if (isUnexpectedError(error)) {
      log?.error({ err: error.originalError }, 'unexpected error in GraphQL operation');
    }
  }
}

import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { GraphQLError, execute, getVariableValues } from 'graphql';
import type { DocumentNode, ExecutionResult, GraphQLSchema } from 'graphql';
import { compileQuery, isCompiledQuery } from 'graphql-jit';
import type { CompiledQuery } from 'graphql-jit';

type Gateway = ApolloServerOptionsWithGateway<never>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;
type ExecutorRequest = Parameters<GatewayExecutor>[0];

/** Executions of a document through graphql-js before it is compiled: a query sent once is not worth compiling. */
const COMPILE_AFTER = 2;

/**
 * Documents remembered, most recently executed kept: compiling the page query takes 2–4 ms and holds about 50 KB, so
 * a client sending ever new queries costs at most this many (≈ 10 MB) and pushes the dashboards' few out only for a
 * while (they are compiled again on their next two runs).
 */
const DOCUMENTS_MAX = 200;

/**
 * Per document (Apollo's document store hands back the same parsed, validated tree for the same query text) and
 * operation name: how many times it ran through graphql-js, then its compiled form (or `false`: it did not compile).
 */
type Entry = number | CompiledQuery | false;

/**
 * A field error of graphql-jit as graphql-js would have raised it (its `locatedError`), for Apollo's error pipeline
 * and `formatError`: graphql-jit's errors have no `extensions` object (Apollo reads `extensions.code` and would answer
 * INTERNAL_SERVER_ERROR), and an error graphql-jit made itself (a null in a non-null field) has no original error,
 * where graphql-js keeps the `Error` it threw (so the failure is logged as unexpected, as before).
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const original = error.originalError;
  if (original instanceof GraphQLError && original.path) {
    return original;
  }
  const located = new GraphQLError(error.message, {
    path: error.path,
    originalError: original ?? new Error(error.message),
  });
  // graphql-js computes them from the field's nodes, which graphql-jit does not keep: the same lines and columns.
  const locations = original instanceof GraphQLError && original.locations ? original.locations : error.locations;
  Object.defineProperty(located, 'locations', { value: locations, enumerable: true, writable: true });
  return located;
}

/**
 * Queries executed by graphql-jit, compiled once per document: graphql-js builds an info object and an argument map
 * for every field of every result (about 5,500 for a page of 50 invoices) and resolves each through a generic loop;
 * the compiled query is straight-line code for that one selection. Everything before execution stays Apollo's
 * (parsing under the token cap, the validation rules, the plugins' hooks), and so does everything after (the error
 * codes, `formatError`, the HTTP status).
 *
 * graphql-js still executes, as before: mutations (their fields run one after another), subscriptions (refused on
 * HTTP before execution), an operation Apollo could not resolve, variables that do not fit their types (so the
 * BAD_USER_INPUT answer is graphql-js's, word for word), a document's first run, and a query graphql-jit cannot
 * compile.
 *
 * Apollo Server 5's one hook for its executor is the `gateway` option: a gateway that loads this schema once and
 * never updates it.
 */
export function compiledQueriesGateway(schema: GraphQLSchema): Gateway {
  const compiled = new Map<DocumentNode, Map<string, Entry>>();

  const executeWithGraphQLJs = (request: ExecutorRequest): Promise<ExecutionResult> | ExecutionResult =>
    execute({
      schema,
      document: request.document,
      contextValue: request.context,
      variableValues: request.request.variables,
      operationName: request.request.operationName,
    });

  const compiledFor = (request: ExecutorRequest): CompiledQuery | undefined => {
    let byName = compiled.get(request.document);
    if (byName) {
      compiled.delete(request.document);
    } else {
      byName = new Map();
      if (compiled.size >= DOCUMENTS_MAX) {
        compiled.delete(compiled.keys().next().value as DocumentNode);
      }
    }
    compiled.set(request.document, byName);
    const key = request.operationName ?? '';
    const entry = byName.get(key) ?? 0;
    if (typeof entry !== 'number') {
      return entry || undefined;
    }
    if (entry + 1 < COMPILE_AFTER) {
      byName.set(key, entry + 1);
      return undefined;
    }
    const result = compileQuery(schema, request.document, request.operationName ?? undefined);
    const query = isCompiledQuery(result) ? result : false;
    byName.set(key, query);
    return query || undefined;
  };

  const executor: GatewayExecutor = async (request) => {
    const operation = request.operation as ExecutorRequest['operation'] | undefined;
    if (operation?.operation !== 'query') {
      return executeWithGraphQLJs(request);
    }
    const query = compiledFor(request);
    if (!query) {
      return executeWithGraphQLJs(request);
    }
    const variables = request.request.variables ?? {};
    if (operation.variableDefinitions?.length) {
      const coerced = getVariableValues(schema, operation.variableDefinitions, variables, { maxErrors: 50 });
      if (coerced.errors) {
        return executeWithGraphQLJs(request);
      }
    }
    const result = await query.query(undefined, request.context, variables);
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
  };

  let loaded: ((schemaContext: { apiSchema: GraphQLSchema; coreSupergraphSdl: string }) => void) | undefined;
  return {
    onSchemaLoadOrUpdate(callback) {
      loaded = callback;
      return () => {
        loaded = undefined;
      };
    },
    load() {
      // Apollo derives its validation and document store from the schema announced here, as for `schema`.
      loaded?.({ apiSchema: schema, coreSupergraphSdl: '' });
      return Promise.resolve({ executor });
    },
    stop() {
      return Promise.resolve();
    },
  };
}

import fc from 'fast-check';
import { buildClientSchema, getIntrospectionQuery } from 'graphql';
import type { IntrospectionQuery } from 'graphql';
import { DEFAULT_CATALOGUE } from '../../src/services/usage/seed-catalogue.service';
import { waitForFeedCount } from '../helpers/wait';
import type { FuzzTarget } from './fuzz-harness';
import {
  FUZZ_RUNS,
  Findings,
  answerProblems,
  anyJson,
  explainFailure,
  fuzzParameters,
  hangGuard,
  hostileString,
  internalErrors,
  leak,
} from './fuzz-harness';
import type { GeneratedOperation, Known } from './graphql-operations';
import { operationsFor, rootFields } from './graphql-operations';
import { acknowledged } from './raw-socket';

/**
 * Every argument of every query, mutation and subscription, read from the server's own introspection, sent as
 * variables and as literals with hostile values, over HTTP and over graphql-ws, as every role. Whatever the input:
 * no HTTP 5xx and no INTERNAL_SERVER_ERROR, no stack trace or file path, no SQL, nothing logged as an unexpected
 * failure, an answer within the budget (never a hang).
 */
const RUNS_PER_FIELD = 10;
/** Requests whose envelope, not an argument, is hostile. */
const ENVELOPES = 50;

export async function fuzzGraphql({ t, tokens, invoiceIds, takeFailures }: FuzzTarget): Promise<Findings> {
  const findings = new Findings('graphql');
  const known: Known = {
    strings: [
      ...invoiceIds,
      'fuzz-user',
      'fuzz-other',
      '2024-01',
      '2024-02',
      'pm_card_visa',
      'pm_card_chargeDeclined',
      'usd',
      ...DEFAULT_CATALOGUE.map((metric) => metric.code),
    ],
  };
  const introspection = await t.gql<IntrospectionQuery, never>(getIntrospectionQuery(), undefined, {
    token: tokens.admin,
  });
  if (!introspection.body.data) {
    throw new Error(`introspection: ${JSON.stringify(introspection.body.errors)}`);
  }
  const fields = rootFields(buildClientSchema(introspection.body.data));
  // What is fuzzed is the schema the server serves: every root field, new ones included.
  if (!['invoices', 'payInvoice', 'paymentStatusChanged'].every((name) => fields.some((f) => f.field.name === name))) {
    throw new Error(`introspection gave ${fields.map((f) => f.field.name).join(', ')}`);
  }

  /** Sends one operation as a dashboard would (POST, JSON body), with the variables exactly as generated. */
  const overHttp = async (operation: GeneratedOperation, token: string | null): Promise<string[]> => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (token) {
      headers.authorization = `Bearer ${token}`;
    }
    const body = `{"query":${JSON.stringify(operation.query)},"variables":${operation.variablesJson}}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(t.graphqlUrl, { method: 'POST', headers, body, signal: hangGuard() });
      text = await res.text();
    } catch (error) {
      return explainFailure(error, operation.describe);
    }
    const problems = answerProblems(text);
    if (res.status >= 500) {
      problems.push(`HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    try {
      problems.push(...internalErrors(JSON.parse(text)).map((e) => `INTERNAL_SERVER_ERROR: ${e}`));
    } catch {
      problems.push(`not JSON: ${text.slice(0, 200)}`);
    }
    return problems;
  };

  /** Sends one operation as a graphql-ws `subscribe` on its own connection; reads until it is answered. */
  const overWebSocket = async (operation: GeneratedOperation, token: string | null): Promise<string[]> => {
    const socket = await acknowledged(t.wsUrl, token);
    const feeds = t.server.statusFeeds();
    const payload = `{"query":${JSON.stringify(operation.query)},"variables":${operation.variablesJson}}`;
    socket.send(`{"id":"fuzz","type":"subscribe","payload":${payload}}`);
    const answered = (): boolean =>
      socket.messages().some((m) => m.id === 'fuzz' && (m.type === 'complete' || m.type === 'error'));
    if (operation.kind === 'subscription') {
      // A subscription that opened stays open: answered once the server counts it (or refuses it).
      await waitForFeedCount(
        t.server,
        `${operation.describe} to be answered`,
        (count) => count > feeds || answered() || socket.closed !== null,
        (wake) => socket.onUpdate(wake),
      ).catch((error: unknown) => explainFailure(error, operation.describe));
    } else {
      await socket.until(answered, operation.describe);
    }
    await socket.close();
    const problems = socket.frames.flatMap((frame) => answerProblems(frame));
    for (const message of socket.messages()) {
      problems.push(...internalErrors(message.payload).map((e) => `INTERNAL_SERVER_ERROR: ${e}`));
    }
    const closed = socket.closed;
    if (closed && (closed.code === 4500 || closed.code === 1011 || leak(closed.reason))) {
      problems.push(`closed ${closed.code} ${closed.reason}`);
    }
    return problems;
  };

  const parameters = fuzzParameters('graphql', RUNS_PER_FIELD);
  findings.begin();
  for (const { kind, field } of fields) {
    await fc.assert(
      fc.asyncProperty(
        operationsFor(kind, field, known),
        // Mostly callers who may call it (the services run); some who may not.
        fc.constantFrom('admin', 'admin', 'service', 'owner', 'stranger', 'anonymous'),
        fc.constantFrom('http', 'http', 'ws'),
        async (operation, role, transport) => {
          const token = tokens[role];
          // Subscriptions are served over WebSocket only.
          const via = kind === 'subscription' ? 'ws' : transport;
          const problems = via === 'ws' ? await overWebSocket(operation, token) : await overHttp(operation, token);
          problems.push(...takeFailures());
          findings.check(problems, `${operation.describe} as ${role} over ${via}\n${operation.query.slice(0, 500)}`);
        },
      ),
      parameters,
    );
  }

  // The request around the operation: bodies that are not one operation (a batch, a string, anything), fields of the
  // wrong type (`query` an object, `variables` a string), any operationName and extensions, GET with its query string.
  const goodQueries = fc.constantFrom(
    '{ me { userId } }',
    'query A { me { userId } } query B { billableMetrics { code } }',
    'query ($p: String!) { usageSummary(period: $p) { userId } }',
    'mutation ($i: ID!) { cancelInvoice(invoiceId: $i) { __typename } }',
    'subscription { paymentStatusChanged { status } }',
  );
  const envelope = fc.record(
    {
      query: fc.oneof({ weight: 3, arbitrary: goodQueries }, hostileString, anyJson),
      variables: fc.oneof(fc.constant({ p: '2024-01', i: invoiceIds[0] }), anyJson),
      operationName: fc.oneof(fc.constantFrom('A', 'B', 'C'), hostileString, anyJson),
      extensions: anyJson,
    },
    { requiredKeys: [] },
  );
  const requests = fc.record({
    method: fc.constantFrom('POST', 'POST', 'GET'),
    body: fc.oneof({ weight: 4, arbitrary: envelope }, fc.array(envelope, { maxLength: 3 }), anyJson),
    contentType: fc.constantFrom('application/json', 'application/json', 'text/plain', 'application/graphql', ''),
    preflight: fc.boolean(),
    role: fc.constantFrom('admin', 'service', 'owner', 'stranger', 'anonymous'),
  });
  await fc.assert(
    fc.asyncProperty(requests, async (request) => {
      const headers: Record<string, string> = {};
      const token = tokens[request.role as keyof typeof tokens];
      if (token) {
        headers.authorization = `Bearer ${token}`;
      }
      if (request.contentType) {
        headers['content-type'] = request.contentType;
      }
      if (request.preflight) {
        // Apollo's CSRF prevention: a GET (or a "simple" POST) needs a header a browser form cannot send.
        headers['apollo-require-preflight'] = 'true';
      }
      let url = t.graphqlUrl;
      let body: string | undefined = JSON.stringify(request.body) ?? 'null';
      if (request.method === 'GET') {
        const fields =
          request.body !== null && typeof request.body === 'object' ? request.body : { query: request.body };
        const search = new URLSearchParams();
        for (const [key, value] of Object.entries(fields)) {
          search.append(
            key,
            typeof value === 'string' ? value.replace(/[\ud800-\udfff]/g, '') : (JSON.stringify(value) ?? ''),
          );
        }
        url = `${url}?${search.toString()}`;
        body = undefined;
        // A browser asking for the explorer page gets HTML, which is not what this checks.
        headers.accept = 'application/json';
      }
      const what = `${request.method} /graphql as ${request.role} ${JSON.stringify(headers).slice(0, 160)} ${(body ?? url).slice(0, 300)}`;
      let res: Response;
      let text: string;
      try {
        res = await fetch(url, { method: request.method, headers, body, signal: hangGuard() });
        text = await res.text();
      } catch (error) {
        return explainFailure(error, what);
      }
      const problems = answerProblems(text);
      if (res.status >= 500) {
        problems.push(`HTTP ${res.status}: ${text.slice(0, 300)}`);
      }
      try {
        problems.push(...internalErrors(JSON.parse(text)).map((e) => `INTERNAL_SERVER_ERROR: ${e}`));
      } catch {
        // Not JSON (a 431 from the HTTP parser): nothing more to read.
      }
      problems.push(...takeFailures());
      findings.check(problems, what);
    }),
    { ...parameters, numRuns: ENVELOPES * FUZZ_RUNS },
  );

  findings.summary(`${fields.length} root fields, and ${ENVELOPES * FUZZ_RUNS} request envelopes`);
  return findings;
}

import fc from 'fast-check';
import { buildClientSchema, getIntrospectionQuery } from 'graphql';
import type { IntrospectionQuery } from 'graphql';
import { DEFAULT_CATALOGUE } from '../../src/services/usage/seed-catalogue.service';
import { waitForFeedCount } from '../helpers/wait';
import type { FuzzTarget } from './fuzz-harness';
import {
  Findings,
  answerProblems,
  explainFailure,
  fuzzParameters,
  hangGuard,
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
const RUNS_PER_FIELD = 12;

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
  findings.summary(`${fields.length} root fields`);
  return findings;
}

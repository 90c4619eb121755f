import { execFile, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { built } from './helpers/build';
import { createTestDatabase, testServerUrl } from './helpers/database';
import type { TestDatabase } from './helpers/database';

/**
 * Traces as an operator turns them on: the compiled server started with OTEL_EXPORTER_OTLP_ENDPOINT naming an OTLP/HTTP
 * receiver (here a node:http server; `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`, so it can read what it gets), an
 * invoice paid over GraphQL, the server stopped (the graceful shutdown sends the spans still buffered), and the spans
 * received: the HTTP request with its request id, the GraphQL operation, the PostgreSQL queries (with a
 * TEST_DATABASE_URL: PGlite has no `pg` driver to trace) and the Stripe call with our invoice id, in one trace.
 */
const main = built('src/main.js');
const tokenCli = built('src/cli/token.js');

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface OtlpExport {
  resourceSpans: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

const attribute = (span: OtlpSpan, key: string): string | undefined => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : String(value.intValue));
};

/** An OTLP/HTTP receiver: every span POSTed to /v1/traces, and the service names they came with. */
async function startReceiver(): Promise<{ url: string; spans: OtlpSpan[]; services: Set<string>; close(): void }> {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += String(chunk)));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces' && req.headers['content-type'] === 'application/json') {
        const exported = JSON.parse(body) as OtlpExport;
        for (const resourceSpans of exported.resourceSpans) {
          const service = resourceSpans.resource?.attributes?.find((a) => a.key === 'service.name');
          if (service?.value.stringValue) {
            services.add(service.value.stringValue);
          }
          spans.push(...resourceSpans.scopeSpans.flatMap((scope) => scope.spans));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, services, close: () => server.close() };
}

describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let dir: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let database: TestDatabase | undefined;
  let child: ChildProcessWithoutNullStreams;
  let url: string;
  let output = '';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'billing-traces-'));
    receiver = await startReceiver();
    env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: path.join(dir, 'data'),
      PORT: '0',
      HOST: '127.0.0.1',
      STRIPE_EMULATOR_PORT: '0',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    };
    if (testServerUrl()) {
      // On PostgreSQL the server does not seed the demo catalogue (the embedded database does): the test does.
      database = await createTestDatabase();
      await seedDefaultCatalogue(database.db.orm.em.fork());
      env.DATABASE_URL = database.url;
    }
    child = spawn(process.execPath, [main], { env, cwd: dir });
    child.stderr.on('data', (d) => (output += String(d)));
    url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        output += String(d);
        const match = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(output);
        if (match) {
          resolve(match[1]);
        }
      });
      child.on('exit', () => reject(new Error(`server exited:\n${output}`)));
    });
  }, 120_000);

  afterAll(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGKILL');
    }
    receiver?.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports spans of the HTTP request, the GraphQL operation, the queries and the Stripe call of a payment', async () => {
    expect(output).toMatch(/"traces":"OTLP"/);
    const token = (
      await promisify(execFile)(process.execPath, [tokenCli, '--sub', 'ops', '--role', 'admin'], {
        env,
        cwd: dir,
        encoding: 'utf8',
      })
    ).stdout.trim();
    const gql = async (query: string, requestId: string): Promise<Record<string, Record<string, unknown>>> => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': requestId },
        body: JSON.stringify({ query }),
      });
      const body = (await res.json()) as { data: Record<string, Record<string, unknown>>; errors?: unknown };
      expect(body.errors).toBeUndefined();
      return body.data;
    };
    await gql(
      `mutation Usage { recordUsage(events: [{ userId: "7", metric: "llm_input_tokens", quantity: "1000000",
        occurredAt: "2024-01-10T00:00:00Z", idempotencyKey: "trace-1" }]) { accepted } }`,
      'trace-usage',
    );
    const created = await gql(
      `mutation Create { createInvoice(period: "2024-01", userId: "7") { __typename ... on Invoice { id status } ... on ErrorResult { message } } }`,
      'trace-create',
    );
    expect(created.createInvoice).toMatchObject({ status: 'OPEN' });
    const invoiceId = String(created.createInvoice.id);
    const paid = await gql(
      `mutation Pay { payInvoice(invoiceId: "${invoiceId}", paymentMethodId: "pm_card_visa") { ... on Invoice { status } } }`,
      'trace-pay',
    );
    expect(paid.payInvoice).toEqual({ status: 'PAID' });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    // The graceful shutdown flushes the span batch: everything is at the receiver once the process has exited.
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const { spans } = receiver;
    expect(receiver.services).toEqual(new Set(['agenthub-billing']));
    const request = spans.find((s) => s.kind === SPAN_KIND_SERVER && attribute(s, 'http.request.id') === 'trace-pay');
    expect(request).toBeDefined();
    const trace = spans.filter((s) => s.traceId === request?.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const descendsFromRequest = (span: OtlpSpan): boolean => {
      for (let at: OtlpSpan | undefined = span; at; at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined) {
        if (at === request) {
          return true;
        }
      }
      return false;
    };

    // The execution's span: `mutation Pay`, under it the resolver's.
    const execute = trace.find((s) => attribute(s, 'graphql.operation.name') === 'Pay');
    expect(execute && [execute.name, attribute(execute, 'graphql.operation.type')]).toEqual([
      'mutation Pay',
      'mutation',
    ]);
    expect(execute && descendsFromRequest(execute)).toBe(true);
    expect(trace.some((s) => s.name === 'graphql.resolve payInvoice' && s.parentSpanId === execute?.spanId)).toBe(true);

    const pay = trace.find((s) => s.name === 'stripe POST /v1/invoices/:id/pay');
    expect(pay).toBeDefined();
    expect(pay && attribute(pay, 'billing.invoice_id')).toBe(invoiceId);
    expect(pay && descendsFromRequest(pay)).toBe(true);
    // The SDK's HTTP request to (the local) Stripe, under the Stripe call's span.
    expect(trace.some((s) => s.kind === SPAN_KIND_CLIENT && s.parentSpanId === pay?.spanId)).toBe(true);

    const queries = trace.filter((s) => attribute(s, 'db.system.name') === 'postgresql');
    if (database) {
      expect(queries.length).toBeGreaterThan(0);
      expect(queries.every(descendsFromRequest)).toBe(true);
    } else {
      expect(queries).toEqual([]);
    }
    // Health probes are not traced.
    expect(spans.filter((s) => s.kind === SPAN_KIND_SERVER && attribute(s, 'url.path') === '/healthz')).toEqual([]);
    expect(spans.filter((s) => s.kind === SPAN_KIND_SERVER && attribute(s, 'http.target') === '/healthz')).toEqual([]);
  });
});

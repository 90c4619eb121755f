/**
 * OpenTelemetry traces, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (in the environment or `.env`). Imported
 * first by src/main.ts: the instrumentations patch `http`, `express`, `pg` and `graphql` as they are loaded, so they
 * must be registered before anything requires those. Off, this module reads the environment and loads nothing else
 * (the SDK is required only when tracing is on); the spans our code makes (src/stripe/stripe-tracing.ts) and the
 * request id set on the current span then go to the OpenTelemetry API's no-op tracer.
 *
 * On: spans of incoming HTTP requests (health and metrics probes left out), Express middleware and routes, GraphQL
 * parse/validate/execute, PostgreSQL queries (made within a traced request; PGlite has no `pg` driver to trace),
 * outgoing HTTP and one span per Stripe call, sent with the OTLP exporter the standard `OTEL_*` variables configure
 * (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` by default, `http/json` or `grpc`; `OTEL_SERVICE_NAME`…). Traces
 * only: metrics stay on `/metrics`, logs on stdout.
 */
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as HttpTracing from '@opentelemetry/instrumentation-http';
import type * as ExpressTracing from '@opentelemetry/instrumentation-express';
import type * as PgTracing from '@opentelemetry/instrumentation-pg';
import type * as GraphQLTracing from '@opentelemetry/instrumentation-graphql';
import { readEnv } from './config/config';

/** Span attribute: the request id (`X-Request-Id`), on each incoming HTTP request's span. */
export const REQUEST_ID_ATTRIBUTE = 'http.request.id';

interface Tracing {
  shutdown(): Promise<void>;
}

let running: Tracing | undefined;

function startTracing(): Tracing | undefined {
  const env = readEnv();
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim()) {
    return undefined;
  }
  // The SDK reads its settings from process.env: pass it the OTEL_* variables of `.env` the environment does not set.
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith('OTEL_') && process.env[name] === undefined && value !== undefined) {
      process.env[name] = value;
    }
  }
  // Required only when tracing is on: no cost when off.
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof SdkNode;
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http') as typeof HttpTracing;
  const { ExpressInstrumentation } = require('@opentelemetry/instrumentation-express') as typeof ExpressTracing;
  const { PgInstrumentation } = require('@opentelemetry/instrumentation-pg') as typeof PgTracing;
  const { GraphQLInstrumentation } = require('@opentelemetry/instrumentation-graphql') as typeof GraphQLTracing;
  const probes = new Set(['/healthz', '/readyz', '/metrics']);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'agenthub-billing',
    // Traces only: no OTLP metrics or logs (Prometheus scrapes /metrics; logs go to stdout).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => probes.has((req.url ?? '').split('?')[0]),
        // The request id the response carries (src/http/request-context.ts), as the logs do.
        applyCustomAttributesOnSpan: (span, _request, response) => {
          const requestId = 'getHeader' in response ? response.getHeader('x-request-id') : undefined;
          if (typeof requestId === 'string') {
            span.setAttribute(REQUEST_ID_ATTRIBUTE, requestId);
          }
        },
      }),
      new ExpressInstrumentation(),
      // Queries outside a traced request (the webhook worker's and scheduler's polls) would each start a trace.
      new PgInstrumentation({ requireParentSpan: true }),
      new GraphQLInstrumentation({ mergeItems: true, ignoreTrivialResolveSpans: true }),
    ],
  });
  sdk.start();
  return sdk;
}

running = startTracing();

/** Sends the spans still buffered (graceful shutdown); nothing to do when tracing is off. */
export async function shutdownTracing(): Promise<void> {
  const tracing = running;
  running = undefined;
  await tracing?.shutdown();
}

/** Whether traces are being exported (for the start log line). */
export function tracingEnabled(): boolean {
  return running !== undefined;
}

import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import { stripeOperation } from '../lib/metrics';

/** Span attribute: our invoice id, on the Stripe calls made for one invoice. */
export const INVOICE_ID_ATTRIBUTE = 'billing.invoice_id';

const tracer = trace.getTracer('agenthub-billing');

/** Spans opened by `inStripeSpan`, so the SDK's `request` event names only ours. */
const stripeSpans = new WeakSet<Span>();

/**
 * One Stripe call (the SDK's retries included) as a span, child of the current one (the GraphQL operation, the
 * webhook or billing work), with our invoice id when the call is for one. Its name (`stripe POST /v1/invoices/:id/pay`)
 * is set when the SDK sends the request (`nameStripeSpan`). With tracing off the tracer is the API's no-op one.
 */
export function inStripeSpan<T>(invoiceId: string | undefined, work: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan('stripe', async (span) => {
    if (!span.isRecording()) {
      span.end();
      return work();
    }
    stripeSpans.add(span);
    if (invoiceId) {
      span.setAttribute(INVOICE_ID_ATTRIBUTE, invoiceId);
    }
    try {
      return await work();
    } catch (error) {
      const code = (error as { failure?: { kind?: string } }).failure?.kind;
      // The kind only: a message could echo request details.
      span.setStatus({ code: SpanStatusCode.ERROR, message: code ?? 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Names the current Stripe span after the request the SDK is sending (the SDK's `request` event). */
export function nameStripeSpan(method: string, path: string): void {
  const span = trace.getActiveSpan();
  if (span && stripeSpans.has(span)) {
    const operation = stripeOperation(method, path);
    span.updateName(`stripe ${operation}`);
    span.setAttribute('stripe.operation', operation);
  }
}

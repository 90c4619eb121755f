import { useEffect, useRef, useState } from 'react';
import { ApiError, request, subscribe } from '../api';
import { StatusBadge } from '../components/StatusBadge';
import { PAYABLE } from '../format';
import { InvoicePaymentDocument, InvoicePaymentStatusDocument } from '../generated/graphql';
import type { InvoicePaymentFieldsFragment, InvoiceStatus } from '../generated/graphql';

export type InvoicePaymentInvoice = InvoicePaymentFieldsFragment;

export interface InvoicePaymentProps {
  /** The invoice to pay (its id in the billing API). */
  invoiceId: string;
  /** A bearer token of the invoice's owner (or an admin); the component speaks only the public GraphQL API. */
  token: string;
  /**
   * The invoice as the host page already holds it (the dashboard's detail view): the component then shows it and
   * leaves loading and live updates to the host. Without it, the component loads the invoice and follows its status
   * over its own subscription.
   */
  invoice?: InvoicePaymentInvoice;
  /** Called with each new status the component hears of (PAID, PAYMENT_FAILED…). */
  onStatusChange?: (status: InvoiceStatus) => void;
}

/**
 * Pay an invoice: the amount due, a Pay button that opens Stripe's hosted invoice page in a new tab, and the live
 * status with what it means: why the last payment failed ("Your card was declined: insufficient funds"), that the
 * card issuer asks for 3-D Secure authentication, that Stripe has not confirmed a payment yet. Card details are
 * typed only on Stripe's page; this component never sees them.
 */
export function InvoicePayment({ invoiceId, token, invoice: given, onStatusChange }: InvoicePaymentProps) {
  const [own, setOwn] = useState<InvoicePaymentInvoice>();
  const [error, setError] = useState<string>();
  const controlled = given !== undefined;
  // The latest callback, read when an event comes: a new function each render must not resubscribe.
  const statusListener = useRef(onStatusChange);
  statusListener.current = onStatusChange;

  useEffect(() => {
    if (controlled) {
      return undefined;
    }
    let active = true;
    const load = () =>
      request(InvoicePaymentDocument, { id: invoiceId }, token).then(
        (data) => active && (setOwn(data.invoice), setError(undefined)),
        (failure: unknown) => active && setError(describeFailure(failure)),
      );
    // Subscribe first, then load: a change committed in between arrives as an event (each carries the invoice).
    const stop = subscribe(InvoicePaymentStatusDocument, { invoiceId }, token, {
      next: (data) => {
        setOwn(data.paymentStatusChanged.invoice);
        statusListener.current?.(data.paymentStatusChanged.status);
      },
      error: () => setError('Live status updates are unavailable; reload to see the latest status.'),
      onReconnect: () => void load(),
    });
    void load();
    return () => {
      active = false;
      stop();
    };
  }, [controlled, invoiceId, token]);

  const invoice = given ?? own;
  if (!invoice) {
    return error ? (
      <p className="error" role="alert">
        {error}
      </p>
    ) : (
      <p className="loading" role="status">
        Loading the payment…
      </p>
    );
  }
  const payable = PAYABLE.includes(invoice.status) && invoice.paymentUrl;
  return (
    <section className="invoice-payment" aria-label={`Payment of invoice ${invoice.number}`}>
      <div className="payment-summary">
        <div>
          <span className="payment-label">Amount due</span>{' '}
          <strong className="payment-amount" data-testid="amount-due">
            {invoice.amountRemaining.formatted}
          </strong>
        </div>
        <div aria-live="polite" aria-atomic="true" className="status-region">
          <span className="visually-hidden">Status: </span>
          <StatusBadge status={invoice.status} />
        </div>
      </div>
      <PaymentMessage invoice={invoice} />
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {payable && (
        <div className="actions">
          <a className="button" href={invoice.paymentUrl ?? undefined} target="_blank" rel="noopener">
            Pay {invoice.amountRemaining.formatted}
            <span className="visually-hidden"> (opens the payment page in a new tab)</span>
          </a>
        </div>
      )}
    </section>
  );
}

/** What the status means for the customer, and what to do next. */
function PaymentMessage({ invoice }: { invoice: InvoicePaymentInvoice }) {
  const failure = invoice.lastPaymentError;
  switch (invoice.status) {
    case 'PAYMENT_FAILED':
      return (
        <div className="error" role="alert" data-testid="payment-error">
          <p>
            <strong>The last payment attempt failed.</strong> {failure ? `${failure.reason}.` : ''}
          </p>
          {failure && !sameSentence(failure.message, failure.reason) && (
            <p className="payment-detail">Stripe: “{failure.message}”</p>
          )}
          <p>You can pay again with another card.</p>
        </div>
      );
    case 'REQUIRES_ACTION':
      return (
        <div className="notice" role="status" data-testid="payment-action">
          <p>
            <strong>Authentication required.</strong> Your card issuer asks you to confirm this payment (3-D Secure):
            open the payment page and complete the check. This page updates by itself when it is done.
          </p>
        </div>
      );
    case 'PROCESSING':
      return (
        <p className="notice" role="status" data-testid="payment-pending">
          {unavailable(invoice)
            ? 'The payment provider is unavailable: Stripe has not confirmed this payment yet. Nothing was charged twice; the status updates here when Stripe reports the outcome.'
            : 'The payment is processing; the status updates here when Stripe reports the outcome.'}
        </p>
      );
    case 'PAID':
      return (
        <p className="success" role="status">
          Paid. Thank you!
        </p>
      );
    default:
      return null;
  }
}

function sameSentence(a: string, b: string): boolean {
  const norm = (text: string) => text.toLowerCase().replace(/[.\s]+$/, '');
  return norm(a) === norm(b);
}

/** Our server's reason when Stripe did not answer a payment (5xx, timeouts, 429 after retries). */
function unavailable(invoice: InvoicePaymentInvoice): boolean {
  const last = invoice.statusHistory[invoice.statusHistory.length - 1];
  return /unavailable|did not confirm|busy/i.test(last?.reason ?? '');
}

function describeFailure(failure: unknown): string {
  if (failure instanceof ApiError && failure.code === 'NOT_FOUND') {
    return 'No such invoice, or it is not yours.';
  }
  return failure instanceof Error ? failure.message : String(failure);
}

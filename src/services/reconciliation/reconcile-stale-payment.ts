import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Invoice, PaymentAttempt } from '../../entities';
import { InvoiceStatus, PaymentAttemptStatus, StatusChangeSource } from '../../entities/enums';
import type { RemoteIntentStatus, RemoteInvoice } from '../../stripe';
import { transitionInvoice } from '../invoicing/invoice-status';

/**
 * How long a payment attempt may stay without an outcome before reconciliation asks Stripe and, when Stripe shows
 * no payment, releases the invoice. Far beyond a card payment's round trip and payInvoice's own 2-minute "abandoned
 * attempt" rule, and short enough that a customer is not locked out of paying for long.
 */
export const DEFAULT_PROCESSING_TIMEOUT_MS = 15 * 60 * 1000;

/** PaymentIntent statuses that mean nothing was charged and nothing is under way. */
const IDLE_INTENT: ReadonlySet<RemoteIntentStatus> = new Set<RemoteIntentStatus>([
  'requires_payment_method',
  'canceled',
]);

/**
 * Why Stripe's invoice does not show "open, nothing paid, no payment in progress" — or null when it does. Read from
 * the invoice with its payments' PaymentIntents expanded (`retrieveInvoiceWithPaymentIntents`); anything this cannot
 * read (a payment that is not a PaymentIntent, an unexpanded intent, more payments than listed) counts as a payment
 * in progress, so an unknown never releases an invoice.
 */
export function stripePaymentActivity(remote: RemoteInvoice): string | null {
  if (remote.status !== 'open') {
    return `Stripe invoice is ${remote.status}`;
  }
  if (remote.amountPaidMinor > 0n) {
    return `Stripe shows ${remote.amountPaidMinor} paid`;
  }
  const payments = remote.payments;
  if (!payments || payments.hasMore) {
    return 'Stripe payments could not be read';
  }
  for (const payment of payments.items) {
    if (payment.status === 'paid' || payment.amountPaidMinor > 0n) {
      return `Stripe payment ${payment.id} is paid`;
    }
    const intent = payment.intent;
    if (payment.status === 'canceled' && !intent) {
      continue;
    }
    if (!intent?.status) {
      return `Stripe payment ${payment.id} has no readable PaymentIntent`;
    }
    if (!IDLE_INTENT.has(intent.status)) {
      return `Stripe payment ${payment.id} is ${intent.status}`;
    }
  }
  return null;
}

interface StalePayment {
  /** Attempts without an outcome (PENDING or UNKNOWN), oldest first. */
  unresolved: PaymentAttempt[];
}

/**
 * A PROCESSING invoice whose payment outcome never came: it has unresolved attempts, and its latest attempt of any
 * kind is older than the timeout (a newer one may still be running in payInvoice). Null otherwise.
 */
async function findStalePayment(
  em: EntityManager,
  invoice: Invoice,
  now: Date,
  timeoutMs: number,
): Promise<StalePayment | null> {
  if (invoice.status !== InvoiceStatus.PROCESSING) {
    return null;
  }
  const attempts = await em.find(PaymentAttempt, { invoice: invoice.id }, { orderBy: { attemptNumber: 'asc' } });
  const latest = attempts.at(-1);
  if (!latest || latest.createdAt.getTime() > now.getTime() - timeoutMs) {
    return null;
  }
  const unresolved = attempts.filter(
    (a) => a.status === PaymentAttemptStatus.PENDING || a.status === PaymentAttemptStatus.UNKNOWN,
  );
  return unresolved.length > 0 ? { unresolved } : null;
}

/** Whether the invoice is PROCESSING with a payment attempt that has had no outcome for `timeoutMs` (read only). */
export async function hasStalePayment(
  em: EntityManager,
  invoiceId: string,
  now: Date,
  timeoutMs: number,
): Promise<boolean> {
  const fork = em.fork();
  const invoice = await fork.findOneOrFail(Invoice, invoiceId);
  return (await findStalePayment(fork, invoice, now, timeoutMs)) !== null;
}

export interface ReleaseInput {
  invoiceId: string;
  /** The Stripe invoice with its PaymentIntents expanded, for which `stripePaymentActivity` found nothing. */
  remote: RemoteInvoice;
  now: Date;
  timeoutMs: number;
  period: string;
}

/**
 * Releases a PROCESSING invoice whose payment never reached Stripe (Stripe shows it open, nothing paid, no payment
 * in progress, and our attempt has had no outcome for `timeoutMs`): the unresolved attempts are recorded as not
 * charged (DECLINED, `not_charged`) and the invoice moves PROCESSING → PAYMENT_FAILED through the transition table,
 * so the customer may pay again or it may be cancelled. A later Stripe event still moves it forward (e.g. to PAID).
 * Re-checked under the row lock (a payment or webhook may have moved it since); returns whether it was released.
 */
export async function releaseStalePayment(em: EntityManager, input: ReleaseInput): Promise<boolean> {
  return em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, input.invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      refresh: true,
    });
    const stale = await findStalePayment(tem, invoice, input.now, input.timeoutMs);
    if (!stale) {
      return false;
    }
    const minutes = Math.round(input.timeoutMs / 60_000);
    const numbers = stale.unresolved.map((a) => a.attemptNumber).join(', ');
    for (const attempt of stale.unresolved) {
      Object.assign(attempt, {
        status: PaymentAttemptStatus.DECLINED,
        errorCode: 'not_charged',
        errorMessage: `reconciliation: no outcome after ${minutes} min and Stripe shows no payment`,
        completedAt: input.now,
      });
    }
    await transitionInvoice(tem, invoice, InvoiceStatus.PAYMENT_FAILED, {
      source: StatusChangeSource.RECONCILIATION,
      ref: `reconcile:${input.period}`,
      reason:
        `payment attempt ${numbers} had no outcome after ${minutes} min and Stripe invoice ${input.remote.id} ` +
        'shows no payment (open, nothing paid, none in progress): released for a new attempt',
    });
    await tem.flush();
    return true;
  });
}

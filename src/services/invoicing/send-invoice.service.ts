import type { AppConfig } from '../../config/config';
import { Invoice } from '../../entities';
import { InvoiceStatus } from '../../entities/enums';
import { failedWith } from '../../stripe';
import type { RemoteInvoice } from '../../stripe';
import type { InvoiceDeps } from './invoice-deps';

export type SendInvoiceOutcome =
  | { kind: 'sent'; invoice: Invoice }
  /** Already sent, AUTO_SEND_INVOICES off, or nothing left to pay: no e-mail. */
  | { kind: 'not_needed'; invoice: Invoice }
  /** Stripe refused to send it (e.g. voided there meanwhile); reconciliation brings the status over. */
  | { kind: 'refused'; invoice: Invoice; message: string };

/**
 * Whether an invoice still owes its e-mail. Decided from what our row records about the send — `sentAt`, written
 * when our send returned or when Stripe's `invoice.sent` webhook arrived — not from the status alone: a webhook
 * (`invoice.finalized`) may open the row while our send fails. Only an invoice the customer still has to pay is
 * e-mailed (OPEN, PAYMENT_FAILED, REQUIRES_ACTION).
 */
/** Invoices the customer is still expected to pay (an UNCOLLECTIBLE one may be paid, but is not e-mailed). */
const AWAITING_PAYMENT: readonly InvoiceStatus[] = [
  InvoiceStatus.OPEN,
  InvoiceStatus.PAYMENT_FAILED,
  InvoiceStatus.REQUIRES_ACTION,
];

export function owesSend(
  invoice: { status: InvoiceStatus; sentAt?: Date | null; stripeInvoiceId?: string | null },
  config: Pick<AppConfig, 'billing'>,
): boolean {
  return (
    config.billing.autoSendInvoices &&
    !invoice.sentAt &&
    !!invoice.stripeInvoiceId &&
    AWAITING_PAYMENT.includes(invoice.status)
  );
}

/** Stripe's clock and ours may differ a little; events are looked for from this much before our request. */
const CLOCK_SKEW_MS = 10 * 60 * 1000;

/**
 * E-mails a finalized invoice through Stripe (AUTO_SEND_INVOICES), once, and records `sentAt`. Resumable: the call
 * carries the deterministic key `invoice:<id>:send`, so repeating a send whose answer was lost replays Stripe's
 * answer instead of e-mailing twice. Stripe forgets that key after 24 hours, so the first attempt marks the row
 * (`sendRequestedAt`) and a later one first asks Stripe's own record, its `invoice.sent` events, whether the e-mail
 * went. The gateway refuses to e-mail an invoice whose total is not ours (`TotalMismatchError`); `checked` is the
 * finalized Stripe invoice when the caller has just read it. Stripe failures other than a refusal are thrown
 * (`StripeGatewayError`).
 */
export async function sendInvoice(
  deps: Pick<InvoiceDeps, 'em' | 'gateway' | 'config'>,
  invoiceId: string,
  checked?: RemoteInvoice,
): Promise<SendInvoiceOutcome> {
  const invoice = await deps.em.fork().findOneOrFail(Invoice, invoiceId, { populate: ['customer'] });
  if (!owesSend(invoice, deps.config)) {
    return { kind: 'not_needed', invoice };
  }
  const stripeInvoiceId = invoice.stripeInvoiceId as string;
  if (invoice.sendRequestedAt) {
    const since = new Date(invoice.sendRequestedAt.getTime() - CLOCK_SKEW_MS);
    const sentAt = await deps.gateway.invoiceSentAt(stripeInvoiceId, since);
    if (sentAt) {
      return { kind: 'sent', invoice: await recordSent(deps, invoice.id, sentAt) };
    }
  } else {
    await deps.em
      .fork()
      .nativeUpdate(Invoice, { id: invoiceId, sendRequestedAt: null }, { sendRequestedAt: new Date() });
  }
  try {
    await deps.gateway.sendInvoice(invoice.id, stripeInvoiceId, invoice, checked);
  } catch (error) {
    if (failedWith(error, 'invalid_state')) {
      return { kind: 'refused', invoice, message: error.message };
    }
    throw error;
  }
  return { kind: 'sent', invoice: await recordSent(deps, invoice.id, new Date()) };
}

/** Records when the invoice was sent, unless something (the `invoice.sent` webhook) recorded it first. */
export async function recordSent(deps: Pick<InvoiceDeps, 'em'>, invoiceId: string, at: Date): Promise<Invoice> {
  const em = deps.em.fork();
  await em.nativeUpdate(Invoice, { id: invoiceId, sentAt: null }, { sentAt: at });
  return em.findOneOrFail(Invoice, invoiceId, { populate: ['customer'] });
}

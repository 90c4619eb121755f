import type { EntityManager } from '@mikro-orm/postgresql';
import { LockMode } from '@mikro-orm/core';
import { Invoice } from '../../entities';
import { InvoiceStatus } from '../../entities/enums';
import type { RemoteInvoice } from '../../stripe';
import { transitionInvoice } from '../invoicing/invoice-status';
import type { StatusCause } from '../invoicing/invoice-status';
import { planInvoice } from '../reconciliation/reconcile-plan';
import type { ReconcileStep } from '../reconciliation/reconcile-plan';

/**
 * Brings an invoice forward to what its Stripe invoice says (`planInvoice`: forward-only, along the transition
 * table, amount paid only grows), through `transitionInvoice`. `invoice` must be locked in `em`'s transaction;
 * the caller flushes. Returns the steps applied.
 */
export async function applyStripeStatus(
  em: EntityManager,
  invoice: Invoice,
  remote: RemoteInvoice,
  cause: StatusCause,
): Promise<ReconcileStep[]> {
  const { steps } = planInvoice(invoice, remote);
  for (const step of steps) {
    if (step.kind === 'status') {
      await transitionInvoice(em, invoice, step.to, cause);
      if (step.to === InvoiceStatus.PAID && remote.paidAt) {
        invoice.paidAt = remote.paidAt;
      }
    } else {
      invoice.amountPaidMinor = step.to;
    }
  }
  invoice.paymentUrl ??= remote.hostedInvoiceUrl;
  invoice.pdfUrl ??= remote.pdfUrl;
  return steps;
}

/**
 * In its own transaction: locks the invoice, brings it forward to `remote` (applyStripeStatus) and returns it. For
 * a caller that ran into Stripe's answer before its webhook (a void, a payment) and must not answer from a stale row.
 */
export async function followStripeInvoice(
  em: EntityManager,
  invoiceId: string,
  remote: RemoteInvoice,
  cause: StatusCause,
): Promise<Invoice> {
  return em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer'],
    });
    await applyStripeStatus(tem, invoice, remote, cause);
    await tem.flush();
    return invoice;
  });
}

import { LockMode } from '@mikro-orm/core';
import { Invoice } from '../entities';
import { InvoiceStatus, StatusChangeSource } from '../entities/enums';
import { StripeGatewayError } from '../stripe';
import type { Caller } from './caller';
import type { InvoiceDeps } from './create-invoice.service';
import { BadInputError } from './errors';
import { findAccessibleInvoice } from './get-invoices.service';
import { canTransition, transitionInvoice } from './invoice-status';

export type CancelInvoiceOutcome =
  | { kind: 'voided'; invoice: Invoice }
  | { kind: 'invalid_state'; status: InvoiceStatus; message: string }
  | { kind: 'stripe_unavailable'; invoice: Invoice; message: string };

/**
 * Cancels an unpaid invoice (owner, admin or service): voids it in Stripe (deletes a Stripe draft), then VOID
 * locally with the reason. Its usage becomes unbilled again, so a new invoice for the period can bill it.
 */
export async function cancelInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  input: { invoiceId: string; reason?: string | null },
): Promise<CancelInvoiceOutcome> {
  const reason = input.reason?.trim() || 'cancelled';
  if (reason.length > 500) {
    throw new BadInputError('reason must be at most 500 characters', 'reason');
  }
  const current = await findAccessibleInvoice(deps.em.fork(), caller, input.invoiceId);
  if (!canTransition(current.status, InvoiceStatus.VOID)) {
    return {
      kind: 'invalid_state',
      status: current.status,
      message:
        current.status === InvoiceStatus.PAID
          ? 'A paid invoice cannot be cancelled'
          : `An invoice in status ${current.status} cannot be cancelled`,
    };
  }

  if (current.stripeInvoiceId) {
    try {
      const stripeInvoice = await deps.gateway.retrieveInvoice(current.stripeInvoiceId);
      if (stripeInvoice.status === 'draft') {
        await deps.gateway.deleteDraftInvoice(current.stripeInvoiceId);
      } else if (stripeInvoice.status === 'paid') {
        return { kind: 'invalid_state', status: current.status, message: 'Stripe reports this invoice as paid' };
      } else if (stripeInvoice.status !== 'void') {
        await deps.gateway.voidInvoice(current.id, current.stripeInvoiceId);
      }
    } catch (error) {
      if (error instanceof StripeGatewayError && ['unavailable', 'rate_limited'].includes(error.failure.kind)) {
        return { kind: 'stripe_unavailable', invoice: current, message: 'Stripe is unavailable; try again' };
      }
      throw error;
    }
  }

  return deps.em.fork().transactional(async (tem) => {
    const invoice = await tem.findOneOrFail(Invoice, input.invoiceId, {
      lockMode: LockMode.PESSIMISTIC_WRITE,
      populate: ['customer', 'lines'],
    });
    if (invoice.status !== InvoiceStatus.VOID && !canTransition(invoice.status, InvoiceStatus.VOID)) {
      return { kind: 'invalid_state', status: invoice.status, message: `The invoice became ${invoice.status}` };
    }
    await transitionInvoice(tem, invoice, InvoiceStatus.VOID, {
      source: StatusChangeSource.API,
      ref: caller.userId,
      reason,
    });
    await tem.execute('update usage_records set billed_on_invoice_id = null where billed_on_invoice_id = ?', [
      invoice.id,
    ]);
    return { kind: 'voided', invoice };
  });
}

import { CreditNoteKind, InvoiceStatus, Role } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import type { InvoiceDeps } from '../invoicing/invoice-deps';
import { findAccessibleInvoice } from '../invoicing/get-invoices.service';
import { formatMoney } from '../shared/money';
import { checkAmount, checkReason, checkRequestKey } from './credit-note-input';
import { refundableMinor } from './credit-note-ledger';
import { issueCreditNote } from './issue-credit-note';
import type { CreditNoteOutcome } from './issue-credit-note';

/**
 * Refunds a paid invoice, fully (no amount: all that is left) or in part (admin): a Stripe credit note with a refund
 * to the card that paid it. Never more than was paid less earlier refunds, checked and reserved under the invoice's
 * row lock, so concurrent refunds cannot over-refund. The invoice stays PAID and its usage billed.
 */
export async function refundInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  input: { invoiceId: string; amountMinor?: bigint | null; reason?: string | null; idempotencyKey: string | null },
): Promise<CreditNoteOutcome> {
  requireRole(caller, Role.ADMIN);
  const reason = checkReason(input.reason);
  const requestKey = checkRequestKey(input.idempotencyKey);
  if (input.amountMinor !== undefined && input.amountMinor !== null) {
    checkAmount(input.amountMinor);
  }
  await findAccessibleInvoice(deps.em.fork(), caller, input.invoiceId);
  return issueCreditNote(deps, caller, {
    invoiceId: input.invoiceId,
    kind: CreditNoteKind.REFUND,
    reason,
    requestKey,
    requestedMinor: input.amountMinor ?? null,
    plan: (invoice) => {
      if (invoice.status !== InvoiceStatus.PAID) {
        return {
          kind: 'invalid_state',
          status: invoice.status,
          message: `Only a paid invoice can be refunded; this one is ${invoice.status}`,
        };
      }
      const left = refundableMinor(invoice);
      const amountMinor = input.amountMinor ?? left;
      if (left <= 0n || amountMinor > left) {
        return {
          kind: 'invalid_amount',
          availableMinor: left,
          currency: invoice.currency,
          message:
            left <= 0n
              ? 'The invoice has been refunded in full'
              : `At most ${formatMoney(left, invoice.currency)} can be refunded`,
        };
      }
      return {
        amountMinor,
        lines: [
          {
            description: reason ?? `Refund of ${invoice.number}`,
            amountMinor: amountMinor.toString(),
            invoiceLineId: null,
          },
        ],
      };
    },
  });
}

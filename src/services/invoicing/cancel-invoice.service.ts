import { LockMode } from '@mikro-orm/core';
import { Invoice } from '../../entities';
import { InvoiceStatus, StatusChangeSource } from '../../entities/enums';
import { failedWith } from '../../stripe';
import type { RemoteInvoice } from '../../stripe';
import { followStripeInvoice } from '../stripe-events/apply-stripe-status';
import type { Caller } from '../customers/caller';
import type { InvoiceDeps } from './invoice-deps';
import { BadInputError } from '../shared/errors';
import { findAccessibleInvoice } from './get-invoices.service';
import { canTransition, pathTo, transitionInvoice } from './invoice-status';
import { withdrawStripeInvoice } from './withdraw-stripe-invoice';

export type CancelInvoiceOutcome =
  | { kind: 'voided'; invoice: Invoice }
  | { kind: 'invalid_state'; status: InvoiceStatus; message: string }
  | { kind: 'stripe_unavailable'; invoice: Invoice; message: string };

/**
 * A row names at most one Stripe invoice, linked once (createInvoice stores it while the row is DRAFT), so the
 * second round always finds the link unchanged; the third is a margin.
 */
const MAX_ROUNDS = 3;

const PAID_MEANWHILE = 'The invoice was paid before it could be cancelled';

/**
 * Cancels an unpaid invoice (owner, admin or service): first Stripe stops holding anything payable for it (a draft
 * is deleted, an open invoice voided), then, under the row lock, VOID with the reason and its usage unbilled again,
 * so a new invoice for the period can bill it.
 *
 * Racing writers: createInvoice may still be publishing a DRAFT. It links a Stripe invoice to the row only under the
 * row lock and only while the row is DRAFT (otherwise it withdraws what it made), and it re-checks the row before
 * every Stripe write. So the VOID is committed only if the row still names the Stripe invoice withdrawn here; if
 * createInvoice linked one meanwhile, that one is withdrawn in a further round. A payment that beats the void (Stripe
 * refuses to void a paid invoice) is applied through the transition table and answered as a state error.
 */
export async function cancelInvoice(
  deps: InvoiceDeps,
  caller: Caller,
  /** `userId`: whose invoice the caller says it is (`findAccessibleInvoice`), as the REST routes' `user_id`. */
  input: { invoiceId: string; reason?: string | null; userId?: string | null; source?: StatusChangeSource },
): Promise<CancelInvoiceOutcome> {
  const reason = input.reason?.trim() || 'cancelled';
  if (reason.length > 500) {
    throw new BadInputError('reason must be at most 500 characters', 'reason');
  }
  let current = await findAccessibleInvoice(deps.em.fork(), caller, input.invoiceId, input.userId);
  if (!canTransition(current.status, InvoiceStatus.VOID)) {
    return refused(current.status, 'A paid invoice cannot be cancelled');
  }

  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const stripeInvoiceId = current.stripeInvoiceId ?? null;
    if (stripeInvoiceId) {
      let withdrawn;
      try {
        withdrawn = await withdrawStripeInvoice(deps.gateway, current.id, stripeInvoiceId);
      } catch (error) {
        if (failedWith(error, 'unavailable', 'rate_limited')) {
          return { kind: 'stripe_unavailable', invoice: current, message: 'Stripe is unavailable; try again' };
        }
        throw error;
      }
      if (withdrawn.kind === 'paid') {
        return applyPaid(deps, caller, current.id, withdrawn.remote);
      }
    }

    const result = await deps.em.fork().transactional(async (tem) => {
      const invoice = await tem.findOneOrFail(Invoice, input.invoiceId, {
        lockMode: LockMode.PESSIMISTIC_WRITE,
        populate: ['customer', 'lines'],
      });
      if ((invoice.stripeInvoiceId ?? null) !== stripeInvoiceId) {
        // createInvoice linked a Stripe invoice after we looked: withdraw that one too before voiding.
        return { kind: 'relinked' as const, invoice };
      }
      // A payment started after our first check may have made it PROCESSING; Stripe has voided it all the same, so
      // nothing can be charged: pathTo goes through PAYMENT_FAILED to VOID.
      const moves = invoice.status === InvoiceStatus.VOID ? [] : pathTo(invoice.status, InvoiceStatus.VOID);
      if (invoice.status !== InvoiceStatus.VOID && moves.length === 0) {
        return refused(invoice.status, PAID_MEANWHILE);
      }
      // The VOID releases the invoice's usage in the same transaction (transitionInvoice).
      for (const to of moves) {
        await transitionInvoice(tem, invoice, to, {
          source: input.source ?? StatusChangeSource.API,
          ref: caller.userId,
          reason: to === InvoiceStatus.VOID ? reason : 'voided in Stripe while a payment was pending: not charged',
        });
      }
      return { kind: 'voided' as const, invoice };
    });
    if (result.kind !== 'relinked') {
      return result;
    }
    current = result.invoice;
  }
  throw new Error(`Invoice ${input.invoiceId} kept changing while it was being cancelled`);
}

function refused(status: InvoiceStatus, paidMessage: string): CancelInvoiceOutcome {
  return {
    kind: 'invalid_state',
    status,
    message: status === InvoiceStatus.PAID ? paidMessage : `An invoice in status ${status} cannot be cancelled`,
  };
}

/** Stripe was paid before it could be voided: our row follows Stripe (forward only) and the cancel is refused. */
async function applyPaid(
  deps: InvoiceDeps,
  caller: Caller,
  invoiceId: string,
  remote: RemoteInvoice,
): Promise<CancelInvoiceOutcome> {
  const invoice = await followStripeInvoice(deps.em, invoiceId, remote, {
    source: StatusChangeSource.API,
    ref: caller.userId,
    reason: 'paid in Stripe before it could be voided',
  });
  return { kind: 'invalid_state', status: invoice.status, message: PAID_MEANWHILE };
}

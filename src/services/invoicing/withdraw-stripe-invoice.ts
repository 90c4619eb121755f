import type { RemoteInvoice, StripeGateway } from '../../stripe';
import { failedWith } from '../../stripe';

export type WithdrawOutcome =
  /** Stripe holds nothing payable under that id any more: the draft is deleted, or the invoice is void. */
  | { kind: 'withdrawn' }
  /** Paid before it could be voided (a concurrent payInvoice, the hosted page): the caller applies it. */
  | { kind: 'paid'; remote: RemoteInvoice };

/** Each refusal means the invoice moved (draft → open → paid at most), so a few rounds always settle it. */
const MAX_ROUNDS = 4;

/**
 * Makes sure a Stripe invoice of ours can no longer be paid: a draft is deleted, an open or uncollectible invoice is
 * voided (key `invoice:<id>:void`). Another writer may move it meanwhile (createInvoice finalizing the draft, a
 * payment), so when Stripe refuses the action as not fitting the invoice's status, the invoice is read again and
 * the action chosen again. Stripe failures other than that refusal are thrown (`StripeGatewayError`).
 */
export async function withdrawStripeInvoice(
  gateway: StripeGateway,
  invoiceId: string,
  stripeInvoiceId: string,
): Promise<WithdrawOutcome> {
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    let remote: RemoteInvoice;
    try {
      remote = await gateway.retrieveInvoice(stripeInvoiceId);
    } catch (error) {
      if (failedWith(error, 'not_found')) {
        return { kind: 'withdrawn' };
      }
      throw error;
    }
    try {
      switch (remote.status) {
        case 'paid':
          return { kind: 'paid', remote };
        case 'void':
          return { kind: 'withdrawn' };
        case 'draft':
          await gateway.deleteDraftInvoice(stripeInvoiceId);
          return { kind: 'withdrawn' };
        default:
          await gateway.voidInvoice(invoiceId, stripeInvoiceId);
          return { kind: 'withdrawn' };
      }
    } catch (error) {
      if (!failedWith(error, 'invalid_state')) {
        throw error;
      }
    }
  }
  throw new Error(`Stripe invoice ${stripeInvoiceId} kept changing status while it was being voided`);
}

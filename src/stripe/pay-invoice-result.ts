import type { RemoteInvoice } from './invoice-snapshot';
import type { StripeGatewayError } from './stripe-errors';
import type { PayInvoiceResult } from './stripe-gateway.types';

/**
 * Turns a failed `invoices.pay` into the outcome the payment service records. `retrieve` re-reads the
 * invoice (with `confirmation_secret` expanded); a failure to re-read never hides the original outcome.
 */
export async function payFailureResult(
  error: StripeGatewayError,
  retrieve: () => Promise<RemoteInvoice>,
): Promise<PayInvoiceResult> {
  const failure = error.failure;
  const reread = (): Promise<RemoteInvoice | undefined> => retrieve().catch(() => undefined);
  switch (failure.kind) {
    case 'card_declined':
      return {
        outcome: 'declined',
        code: failure.code,
        declineCode: failure.declineCode,
        message: failure.message,
        ...(failure.paymentIntentId ? { paymentIntentId: failure.paymentIntentId } : {}),
      };
    case 'requires_action': {
      // The 402 carries `payment_intent.client_secret`; with API 2026-10-28 the invoice no longer links its
      // PaymentIntent, so the fallback is the includable `confirmation_secret`.
      const invoice = await reread();
      const clientSecret = failure.clientSecret ?? invoice?.confirmationSecret ?? undefined;
      return {
        outcome: 'requires_action',
        message: failure.message,
        ...(clientSecret ? { clientSecret } : {}),
        ...(invoice ? { invoice } : {}),
        ...(failure.paymentIntentId ? { paymentIntentId: failure.paymentIntentId } : {}),
      };
    }
    case 'invalid_state': {
      // "Already paid" after an earlier attempt whose response we lost (or a hosted-page payment) is a success
      // for the caller: nothing was charged twice, and the invoice is settled.
      const invoice = await reread();
      if (invoice?.status === 'paid') {
        return { outcome: 'paid', invoice };
      }
      return { outcome: 'invalid_state', message: failure.message, ...(invoice ? { invoice } : {}) };
    }
    case 'unavailable':
      return { outcome: 'unknown', message: failure.message };
    default:
      // Rate limits, bad requests (unknown payment method) and authentication are not payment outcomes.
      throw error;
  }
}

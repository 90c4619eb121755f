import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { StripeApiError, invalidState } from './errors';
import { internalsOf } from './invoice-model';
import { changed, emitInvoice, markPaid } from './lifecycle';
import { outcomeOf } from './payment-methods';
import { newId } from './util';

/** Card payment attempts on an invoice: success, decline, 3-D Secure. */

function paymentIntentSummary(emu: Emulator, inv: Stripe.Invoice, status: string, pm: string): Record<string, unknown> {
  const internals = internalsOf(emu, inv.id);
  return {
    id: internals.paymentIntentId,
    object: 'payment_intent',
    amount: inv.amount_remaining,
    currency: inv.currency,
    client_secret: internals.clientSecret,
    payment_method: pm,
    status,
    ...(status === 'requires_action'
      ? { next_action: { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } } }
      : {}),
  };
}

export type ChargeResult = { kind: 'paid' } | { kind: 'failed' | 'requires_action'; error: StripeApiError };

/** One payment attempt with a card: succeeds, declines, or needs 3-D Secure. */
export function charge(
  emu: Emulator,
  inv: Stripe.Invoice,
  pm: Stripe.PaymentMethod,
  request: EventRequest,
): ChargeResult {
  const previous = changed(inv, ['attempt_count', 'attempted']);
  inv.attempt_count += 1;
  inv.attempted = true;
  inv.next_payment_attempt = null;
  const outcome = outcomeOf(pm);
  if (outcome.kind === 'succeed') {
    markPaid(emu, inv, request, pm.id);
    return { kind: 'paid' };
  }
  const internals = internalsOf(emu, inv.id);
  if (outcome.kind === 'authenticate') {
    internals.pendingActionPaymentMethod = pm.id;
    const error = new StripeApiError(402, {
      type: 'card_error',
      code: 'invoice_payment_intent_requires_action',
      message:
        'This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice. For more detail see: https://stripe.com/docs/billing/subscriptions/overview#requires-action',
      payment_intent: paymentIntentSummary(emu, inv, 'requires_action', pm.id),
    });
    emitInvoice(emu, 'invoice.payment_action_required', inv, request);
    emitInvoice(emu, 'invoice.updated', inv, request, previous);
    return { kind: 'requires_action', error };
  }
  internals.pendingActionPaymentMethod = null;
  const error = new StripeApiError(402, {
    type: 'card_error',
    code: outcome.code,
    decline_code: outcome.declineCode,
    message: outcome.message,
    charge: newId('ch'),
    payment_intent: paymentIntentSummary(emu, inv, 'requires_payment_method', pm.id),
  });
  emitInvoice(emu, 'invoice.payment_failed', inv, request);
  emitInvoice(emu, 'invoice.updated', inv, request, previous);
  return { kind: 'failed', error };
}

/** The customer answered the 3-D Secure challenge. */
export function completeThreeDSecure(
  emu: Emulator,
  inv: Stripe.Invoice,
  approve: boolean,
  request: EventRequest,
): ChargeResult {
  const internals = internalsOf(emu, inv.id);
  const pm = internals.pendingActionPaymentMethod;
  if (!pm || inv.status !== 'open') {
    throw invalidState(
      'This invoice has no payment waiting for 3-D Secure authentication.',
      'payment_intent_unexpected_state',
    );
  }
  if (approve) {
    markPaid(emu, inv, request, pm);
    return { kind: 'paid' };
  }
  internals.pendingActionPaymentMethod = null;
  const error = new StripeApiError(402, {
    type: 'card_error',
    code: 'payment_intent_authentication_failure',
    message:
      'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
    payment_intent: paymentIntentSummary(emu, inv, 'requires_payment_method', pm),
  });
  emitInvoice(emu, 'invoice.payment_failed', inv, request);
  return { kind: 'failed', error };
}

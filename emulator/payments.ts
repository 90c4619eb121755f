import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { StripeApiError, invalidState } from './errors';
import { internalsOf } from './invoice-model';
import { changed, emitInvoice, markPaid } from './lifecycle';
import { outcomeOf } from './payment-methods';
import { paymentIntentOf, type AttemptFacts } from './payment-intents';
import { newId } from './util';

/** Card payment attempts on an invoice: success, decline, 3-D Secure. */

/** The PaymentIntent a 402 carries: the invoice's, with what this attempt learned. */
function attemptIntent(
  emu: Emulator,
  inv: Stripe.Invoice,
  facts: AttemptFacts,
  pm: Stripe.PaymentMethod | string,
): Stripe.PaymentIntent {
  const error = facts.error && typeof pm !== 'string' ? { ...facts.error, payment_method: pm } : facts.error;
  return paymentIntentOf(emu, inv, { ...facts, error });
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
      payment_intent: attemptIntent(emu, inv, { status: 'requires_action', paymentMethod: pm.id }, pm),
    });
    emitInvoice(emu, 'invoice.payment_action_required', inv, request);
    emitInvoice(emu, 'invoice.updated', inv, request, previous);
    return { kind: 'requires_action', error };
  }
  internals.pendingActionPaymentMethod = null;
  const chargeId = newId('ch');
  const decline = {
    type: 'card_error' as const,
    code: outcome.code,
    decline_code: outcome.declineCode,
    message: outcome.message,
    charge: chargeId,
  };
  const error = new StripeApiError(402, {
    ...decline,
    payment_intent: attemptIntent(
      emu,
      inv,
      { status: 'requires_payment_method', paymentMethod: null, charge: chargeId, error: decline },
      pm,
    ),
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
  const failure = {
    type: 'card_error' as const,
    code: 'payment_intent_authentication_failure',
    message:
      'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
  };
  const error = new StripeApiError(402, {
    ...failure,
    payment_intent: attemptIntent(
      emu,
      inv,
      { status: 'requires_payment_method', paymentMethod: null, error: failure },
      pm,
    ),
  });
  emitInvoice(emu, 'invoice.payment_failed', inv, request);
  return { kind: 'failed', error };
}

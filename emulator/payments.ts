import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { StripeApiError, invalidState } from './errors';
import { internalsOf } from './invoice-model';
import { changed, emitInvoice, markPaid } from './lifecycle';
import {
  currentIntent,
  intentAuthenticationFailed,
  intentDeclined,
  intentForAttempt,
  intentRequiresAction,
  intentSucceeded,
} from './payment-intents';
import { lookupPaymentMethod, outcomeOf } from './payment-methods';
import { snapshot } from './util';

/**
 * Card payment attempts on an invoice: success, decline, 3-D Secure. Each confirms the invoice's PaymentIntent
 * (`payment-intents.ts`); its events come first, then the invoice's, in the order Stripe sends them.
 */

const REQUIRES_ACTION_MESSAGE =
  'This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice. For more detail see: https://stripe.com/docs/billing/subscriptions/overview#requires-action';

export type ChargeResult =
  | { kind: 'paid'; paymentIntent: Stripe.PaymentIntent }
  | { kind: 'failed' | 'requires_action'; error: StripeApiError; paymentIntent: Stripe.PaymentIntent };

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
  const pi = intentForAttempt(emu, inv, request);
  const outcome = outcomeOf(pm);
  const internals = internalsOf(emu, inv.id);
  if (outcome.kind === 'succeed') {
    intentSucceeded(emu, pi, pm, false, request);
    markPaid(emu, inv, request, pm.id);
    return { kind: 'paid', paymentIntent: pi };
  }
  if (outcome.kind === 'authenticate') {
    internals.pendingActionPaymentMethod = pm.id;
    intentRequiresAction(emu, pi, pm, request);
    const error = requiresActionError(pi);
    emitInvoice(emu, ['invoice.payment_action_required', 'invoice.updated'], inv, request, previous);
    return { kind: 'requires_action', error, paymentIntent: pi };
  }
  internals.pendingActionPaymentMethod = null;
  const error = intentDeclined(emu, pi, pm, outcome, request);
  emitInvoice(emu, ['invoice.payment_failed', 'invoice.updated'], inv, request, previous);
  return { kind: 'failed', error, paymentIntent: pi };
}

/** The 402 `invoices.pay` answers while 3-D Secure waits; its PaymentIntent carries the `client_secret`. */
export function requiresActionError(pi: Stripe.PaymentIntent): StripeApiError {
  return new StripeApiError(402, {
    type: 'card_error',
    code: 'invoice_payment_intent_requires_action',
    message: REQUIRES_ACTION_MESSAGE,
    payment_intent: snapshot(pi),
  });
}

/** The customer answered the 3-D Secure challenge (hosted page, control API, or a confirm with the client secret). */
export function completeThreeDSecure(
  emu: Emulator,
  inv: Stripe.Invoice,
  approve: boolean,
  request: EventRequest,
): ChargeResult {
  const internals = internalsOf(emu, inv.id);
  const pmId = internals.pendingActionPaymentMethod;
  // An invoice marked uncollectible keeps its PaymentIntent: the customer may still authenticate and pay it.
  if (!pmId || (inv.status !== 'open' && inv.status !== 'uncollectible')) {
    throw invalidState(
      'This invoice has no payment waiting for 3-D Secure authentication.',
      'payment_intent_unexpected_state',
    );
  }
  const pi = currentIntent(emu, inv) ?? intentForAttempt(emu, inv, request);
  const pm = lookupPaymentMethod(emu, pmId);
  if (approve && pm) {
    intentSucceeded(emu, pi, pm, true, request);
    markPaid(emu, inv, request, pmId);
    return { kind: 'paid', paymentIntent: pi };
  }
  internals.pendingActionPaymentMethod = null;
  const error = intentAuthenticationFailed(emu, pi, pm, request);
  emitInvoice(emu, 'invoice.payment_failed', inv, request);
  return { kind: 'failed', error, paymentIntent: pi };
}

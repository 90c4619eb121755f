import type Stripe from 'stripe';
import type { ApiContext, ApiRouter } from './api';
import { StripeApiError, invalidState, resourceMissing } from './errors';
import { render } from './expand';
import { defaultInvoicePayment, internalsOf } from './invoice-model';
import { newestFirst, paginate, listParams } from './list';
import { allowOnly, oneOf, rangeFilter, str } from './params';
import { cancelIntent, intentForAttempt, invoiceOfIntent, paymentIntentView } from './payment-intents';
import { requirePaymentMethod } from './payment-methods';
import { charge, completeThreeDSecure } from './payments';

/**
 * `/v1/payment_intents`: retrieve, list, confirm, cancel. A publishable key (`pk_test_…`, what Stripe.js holds)
 * may retrieve and confirm with the PaymentIntent's `client_secret`; a secret key needs none.
 */

function getIntent(ctx: ApiContext): Stripe.PaymentIntent {
  const pi = paymentIntentView(ctx.emu, ctx.path.id);
  if (!pi) {
    throw resourceMissing('payment_intent', ctx.path.id, 'intent');
  }
  const secret = str(ctx.params, 'client_secret');
  if (ctx.publishable && secret !== pi.client_secret) {
    // Stripe answers a wrong or missing secret with the object's absence.
    throw resourceMissing('payment_intent', ctx.path.id, 'intent');
  }
  if (secret !== undefined && secret !== pi.client_secret) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'parameter_invalid',
      param: 'client_secret',
      message: 'The client_secret provided does not match the client_secret associated with the PaymentIntent.',
    });
  }
  // A PaymentIntent shown from an invoice saved before they were stored is stored on first use.
  ctx.emu.state.paymentIntents.set(pi.id, pi);
  return pi;
}

function retrieve(ctx: ApiContext): unknown {
  allowOnly(ctx.params, ['client_secret', 'expand'] satisfies Array<keyof Stripe.PaymentIntentRetrieveParams>);
  return render(ctx.emu, getIntent(ctx), ctx.expand);
}

const LIST_PARAMS = listParams<Stripe.PaymentIntentListParams>('created', 'customer', 'customer_account');

function list(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, LIST_PARAMS);
  const customer = str(p, 'customer');
  const created = rangeFilter(p, 'created');
  const page = paginate(
    newestFirst(ctx.emu.state.paymentIntents),
    p,
    '/v1/payment_intents',
    'payment_intent',
    (pi) => (customer === undefined || pi.customer === customer) && (!created || created(pi.created)),
  );
  return { ...page, data: page.data.map((pi) => render(ctx.emu, pi, ctx.expand, 'data.')) };
}

const CONFIRM_PARAMS = [
  'client_secret',
  'error_on_requires_action',
  'expand',
  'off_session',
  'payment_method',
  'return_url',
  'use_stripe_sdk',
] as const;

const CONFIRMABLE = ['requires_payment_method', 'requires_confirmation', 'requires_action'];

/**
 * Confirms an invoice's PaymentIntent. With a `payment_method` it is a payment attempt on the invoice (approved,
 * declined with 402, or `requires_action`). Without one, a PaymentIntent waiting for 3-D Secure is confirmed as
 * Stripe.js does once the customer passed the challenge: it succeeds and the invoice is paid. (Failing a challenge:
 * the hosted page or `POST /_emulator/invoices/:id/three-d-secure {"result":"fail"}`.)
 */
function confirm(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, CONFIRM_PARAMS);
  const pi = getIntent(ctx);
  if (!CONFIRMABLE.includes(pi.status)) {
    throw invalidState(
      `You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`,
      'payment_intent_unexpected_state',
    );
  }
  const inv = invoiceOfIntent(ctx.emu, pi.id);
  if (!inv || (inv.status !== 'open' && inv.status !== 'uncollectible')) {
    throw invalidState(
      `This PaymentIntent's invoice is ${inv?.status ?? 'gone'} and cannot be paid.`,
      'payment_intent_unexpected_state',
    );
  }
  const pmId = str(p, 'payment_method');
  if (!pmId && pi.status === 'requires_action') {
    const result = completeThreeDSecure(ctx.emu, inv, true, ctx.request);
    return render(ctx.emu, result.paymentIntent, ctx.expand);
  }
  if (!pmId) {
    throw invalidState(
      "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent, specify a payment method (`payment_method`).",
      'payment_intent_unexpected_state',
    );
  }
  const pm = requirePaymentMethod(ctx.emu, pmId, 'payment_method');
  const result = charge(ctx.emu, inv, pm, ctx.request);
  if (result.kind === 'failed') {
    throw result.error;
  }
  // 3-D Secure is not an error here: the PaymentIntent comes back `requires_action` with its `next_action`.
  return render(ctx.emu, result.paymentIntent, ctx.expand);
}

const CANCELABLE = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'];

/**
 * Cancels the PaymentIntent; its invoice stays open, and its next payment attempt gets a new PaymentIntent (and a
 * new default invoice payment), created at once so that `confirmation_secret` stays usable.
 */
function cancel(ctx: ApiContext): unknown {
  const p = ctx.params;
  allowOnly(p, ['cancellation_reason', 'expand'] satisfies Array<keyof Stripe.PaymentIntentCancelParams>);
  const reason = oneOf(p, 'cancellation_reason', ['abandoned', 'duplicate', 'fraudulent', 'requested_by_customer']);
  const pi = getIntent(ctx);
  if (!CANCELABLE.includes(pi.status)) {
    throw invalidState(
      `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}, processing.`,
      'payment_intent_unexpected_state',
    );
  }
  cancelIntent(ctx.emu, pi, reason ?? null, ctx.request);
  const inv = invoiceOfIntent(ctx.emu, pi.id);
  if (inv) {
    internalsOf(ctx.emu, inv.id).pendingActionPaymentMethod = null;
    const payment = defaultInvoicePayment(ctx.emu, inv);
    if (payment?.payment.payment_intent === pi.id && payment.status === 'open') {
      payment.status = 'canceled';
      payment.status_transitions.canceled_at = ctx.emu.now();
    }
    if (inv.status === 'open' || inv.status === 'uncollectible') {
      intentForAttempt(ctx.emu, inv, ctx.request);
    }
  }
  return render(ctx.emu, pi, ctx.expand);
}

export function registerPaymentIntents(r: ApiRouter): void {
  r.get('/v1/payment_intents', list);
  r.get('/v1/payment_intents/:id', retrieve, { publishable: true });
  r.post('/v1/payment_intents/:id/confirm', confirm, { publishable: true });
  r.post('/v1/payment_intents/:id/cancel', cancel);
}

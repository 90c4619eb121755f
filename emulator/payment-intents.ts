import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { createCharge } from './charges';
import { StripeApiError } from './errors';
import { defaultInvoicePayment, internalsOf } from './invoice-model';
import type { CardOutcome } from './payment-methods';
import { newId, randomToken, snapshot } from './util';

/**
 * PaymentIntents of invoices, stored like the other objects. An invoice gets its PaymentIntent at finalization (the
 * default invoice payment points at it); every attempt to pay the invoice confirms it: an approved card makes a
 * succeeded charge and `succeeded`, a decline a failed charge and `last_payment_error`, 3-D Secure `requires_action`
 * until the challenge is answered. Voiding the invoice or paying it out of band cancels it. Each change sends its
 * `payment_intent.*` / `charge.*` event through the usual event and delivery machinery.
 */

type Decline = Extract<CardOutcome, { kind: 'decline' }>;

/** Stripe documents these messages for the error codes an invoice payment can end with. */
export const AUTHENTICATION_FAILURE_MESSAGE =
  'We are unable to authenticate your payment method. Please choose a different payment method and try again.';

function docUrl(code: string): string {
  return `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`;
}

function build(emu: Emulator, inv: Stripe.Invoice, id: string, clientSecret: string): Stripe.PaymentIntent {
  return {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: inv.amount_remaining,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: clientSecret,
    confirmation_method: 'automatic',
    created: emu.now(),
    currency: inv.currency,
    customer: typeof inv.customer === 'string' ? inv.customer : null,
    customer_account: null,
    description: `Payment for Invoice ${inv.number ?? inv.id}`,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  };
}

/** The PaymentIntent of a newly finalized invoice (its ids were reserved by `createDefaultPayment`). */
export function openInvoiceIntent(emu: Emulator, inv: Stripe.Invoice, request: EventRequest): void {
  const internals = internalsOf(emu, inv.id);
  if (!internals.paymentIntentId || !internals.clientSecret || inv.amount_remaining <= 0) {
    return;
  }
  const pi = build(emu, inv, internals.paymentIntentId, internals.clientSecret);
  emu.state.paymentIntents.set(pi.id, pi);
  emu.emit('payment_intent.created', pi, request);
}

/** The invoice a PaymentIntent pays. */
export function invoiceOfIntent(emu: Emulator, paymentIntentId: string): Stripe.Invoice | undefined {
  const [payment] = emu.state.invoicePayments.by('paymentIntent', paymentIntentId);
  return payment ? emu.state.invoices.get(payment.invoice as string) : undefined;
}

/**
 * The invoice's current PaymentIntent, ready for an attempt: its amount follows what is still due. After a cancel
 * (`POST /v1/payment_intents/:id/cancel`) the next attempt gets a new one and a new default invoice payment, as
 * Stripe does. State saved before PaymentIntents were stored gets its object on first use.
 */
export function intentForAttempt(emu: Emulator, inv: Stripe.Invoice, request: EventRequest): Stripe.PaymentIntent {
  const internals = internalsOf(emu, inv.id);
  let pi = internals.paymentIntentId ? emu.state.paymentIntents.get(internals.paymentIntentId) : undefined;
  if (pi?.status === 'canceled') {
    const old = defaultInvoicePayment(emu, inv);
    if (old) {
      old.is_default = false;
    }
    internals.paymentIntentId = newId('pi');
    internals.clientSecret = `${internals.paymentIntentId}_secret_${randomToken(25)}`;
    const payment: Stripe.InvoicePayment = {
      id: newId('inpay'),
      object: 'invoice_payment',
      amount_paid: null,
      amount_requested: inv.amount_remaining,
      created: emu.now(),
      currency: inv.currency,
      invoice: inv.id,
      is_default: true,
      livemode: false,
      payment: { payment_intent: internals.paymentIntentId, type: 'payment_intent' },
      status: 'open',
      status_transitions: { canceled_at: null, paid_at: null },
    };
    emu.state.invoicePayments.set(payment.id, payment);
    pi = undefined;
  }
  if (!pi) {
    if (!internals.paymentIntentId || !internals.clientSecret) {
      internals.paymentIntentId = newId('pi');
      internals.clientSecret = `${internals.paymentIntentId}_secret_${randomToken(25)}`;
    }
    pi = build(emu, inv, internals.paymentIntentId, internals.clientSecret);
    emu.state.paymentIntents.set(pi.id, pi);
    emu.emit('payment_intent.created', pi, request);
  }
  pi.amount = inv.amount_remaining;
  return pi;
}

/** The stored PaymentIntent of an invoice, if it has one. */
export function currentIntent(emu: Emulator, inv: Stripe.Invoice): Stripe.PaymentIntent | undefined {
  const id = emu.state.internals.get(inv.id)?.paymentIntentId;
  return id ? emu.state.paymentIntents.get(id) : undefined;
}

/** The card was charged: a succeeded charge, the PaymentIntent `succeeded`. */
export function intentSucceeded(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  threeDSecure: boolean,
  request: EventRequest,
): void {
  const charge = createCharge(emu, pi, pm, null, threeDSecure);
  Object.assign(pi, {
    status: 'succeeded',
    amount_received: pi.amount,
    latest_charge: charge.id,
    payment_method: pm.id,
    last_payment_error: null,
    next_action: null,
  } satisfies Partial<Stripe.PaymentIntent>);
  emu.emit('charge.succeeded', charge, request);
  emu.emit('payment_intent.succeeded', pi, request);
}

/**
 * The card was declined: a failed charge, and the PaymentIntent back to `requires_payment_method` with the decline
 * in `last_payment_error`. Returns the 402 Stripe answers (its body carries the charge and the PaymentIntent).
 */
export function intentDeclined(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  decline: Decline,
  request: EventRequest,
): StripeApiError {
  const charge = createCharge(emu, pi, pm, decline, false);
  const error: Stripe.PaymentIntent.LastPaymentError = {
    type: 'card_error',
    charge: charge.id,
    code: decline.code,
    decline_code: decline.declineCode,
    doc_url: docUrl(decline.code),
    message: decline.message,
    payment_method: snapshot(pm),
  };
  Object.assign(pi, {
    status: 'requires_payment_method',
    latest_charge: charge.id,
    payment_method: null,
    last_payment_error: error,
    next_action: null,
  } satisfies Partial<Stripe.PaymentIntent>);
  emu.emit('charge.failed', charge, request);
  emu.emit('payment_intent.payment_failed', pi, request);
  return new StripeApiError(402, {
    type: 'card_error',
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    charge: charge.id,
    payment_intent: snapshot(pi),
    payment_method: snapshot(pm) as unknown as Record<string, unknown>,
  });
}

/** The card needs 3-D Secure: `requires_action` with the `use_stripe_sdk` next action Stripe.js follows. */
export function intentRequiresAction(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  request: EventRequest,
): void {
  Object.assign(pi, {
    status: 'requires_action',
    payment_method: pm.id,
    last_payment_error: null,
    next_action: {
      type: 'use_stripe_sdk',
      use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: '', source: newId('src') },
    },
  } satisfies Partial<Stripe.PaymentIntent>);
  emu.emit('payment_intent.requires_action', pi, request);
}

/** The 3-D Secure challenge failed: no charge, `payment_intent_authentication_failure` in `last_payment_error`. */
export function intentAuthenticationFailed(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod | undefined,
  request: EventRequest,
): StripeApiError {
  const code = 'payment_intent_authentication_failure';
  Object.assign(pi, {
    status: 'requires_payment_method',
    payment_method: null,
    next_action: null,
    last_payment_error: {
      type: 'invalid_request_error',
      code,
      doc_url: docUrl(code),
      message: AUTHENTICATION_FAILURE_MESSAGE,
      ...(pm ? { payment_method: snapshot(pm) } : {}),
    },
  } satisfies Partial<Stripe.PaymentIntent>);
  emu.emit('payment_intent.payment_failed', pi, request);
  return new StripeApiError(402, {
    type: 'card_error',
    code,
    message: AUTHENTICATION_FAILURE_MESSAGE,
    payment_intent: snapshot(pi),
  });
}

/** The invoice no longer needs its PaymentIntent (void, paid out of band): `canceled`, unless already final. */
export function cancelIntent(
  emu: Emulator,
  pi: Stripe.PaymentIntent | undefined,
  reason: Stripe.PaymentIntent.CancellationReason | null,
  request: EventRequest,
): void {
  if (!pi || pi.status === 'succeeded' || pi.status === 'canceled') {
    return;
  }
  Object.assign(pi, {
    status: 'canceled',
    canceled_at: emu.now(),
    cancellation_reason: reason,
    next_action: null,
  } satisfies Partial<Stripe.PaymentIntent>);
  emu.emit('payment_intent.canceled', pi, request);
}

/**
 * A PaymentIntent as `expand[]` and retrieve show it. State saved before PaymentIntents were stored has only the
 * invoice's reserved id: such an intent is shown from its invoice until its first use stores it.
 */
export function paymentIntentView(emu: Emulator, paymentIntentId: string): Stripe.PaymentIntent | undefined {
  const stored = emu.state.paymentIntents.get(paymentIntentId);
  if (stored) {
    return stored;
  }
  const inv = invoiceOfIntent(emu, paymentIntentId);
  const internals = inv ? emu.state.internals.get(inv.id) : undefined;
  if (!inv || internals?.paymentIntentId !== paymentIntentId || !internals.clientSecret) {
    return undefined;
  }
  const pi = build(emu, inv, paymentIntentId, internals.clientSecret);
  const payment = defaultInvoicePayment(emu, inv);
  if (inv.status === 'paid') {
    pi.status = payment?.status === 'paid' ? 'succeeded' : 'canceled';
    pi.amount = inv.amount_paid;
    pi.amount_received = payment?.status === 'paid' ? (payment.amount_paid ?? 0) : 0;
  } else if (inv.status === 'void') {
    pi.status = 'canceled';
  } else if (internals.pendingActionPaymentMethod) {
    pi.status = 'requires_action';
    pi.payment_method = internals.pendingActionPaymentMethod;
  }
  return pi;
}

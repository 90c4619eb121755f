import type Stripe from 'stripe';
import type { Emulator } from './context';
import { defaultInvoicePayment, internalsOf } from './invoice-model';

/** What a payment attempt tells the PaymentIntent it returns in a 402: its status, card, charge and error. */
export interface AttemptFacts {
  status: Stripe.PaymentIntent.Status;
  paymentMethod: string | null;
  /** The declined charge, if one was made. */
  charge?: string;
  error?: Stripe.PaymentIntent.LastPaymentError;
}

/**
 * The PaymentIntent behind an invoice's default payment, derived from the invoice (the emulator keeps no separate
 * object): `succeeded` once paid, `canceled` when void or paid out of band, `requires_action` while a 3-D Secure
 * challenge waits, otherwise `requires_payment_method` (nothing charged, nothing in progress). Card payments settle
 * at once here, so `processing` never occurs. Reached through `expand[]=payments.data.payment.payment_intent`, and
 * carried, with what the attempt learned, by the 402 of a declined or challenged `invoices.pay`.
 */
export function paymentIntentView(emu: Emulator, paymentIntentId: string): Stripe.PaymentIntent | undefined {
  for (const [invoiceId, internals] of emu.state.internals) {
    if (internals.paymentIntentId !== paymentIntentId) {
      continue;
    }
    const inv = emu.state.invoices.get(invoiceId);
    if (!inv) {
      return undefined;
    }
    const pending = internals.pendingActionPaymentMethod;
    return paymentIntentOf(emu, inv, { status: paymentIntentStatus(emu, inv, pending), paymentMethod: pending });
  }
  return undefined;
}

/** The invoice's PaymentIntent as Stripe returns one, every field present. */
export function paymentIntentOf(emu: Emulator, inv: Stripe.Invoice, facts: AttemptFacts): Stripe.PaymentIntent {
  const internals = internalsOf(emu, inv.id);
  const { status } = facts;
  const canceledAt =
    status === 'canceled' ? (inv.status_transitions.voided_at ?? inv.status_transitions.paid_at) : null;
  return {
    id: internals.paymentIntentId ?? '',
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount: inv.amount_due,
    amount_capturable: 0,
    amount_received: status === 'succeeded' ? inv.amount_paid - (inv.amount_paid_off_stripe ?? 0) : 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: null,
    canceled_at: canceledAt,
    cancellation_reason: status === 'canceled' ? 'void_invoice' : null,
    capture_method: 'automatic',
    client_secret: internals.clientSecret,
    confirmation_method: 'automatic',
    created: inv.status_transitions.finalized_at ?? inv.created,
    currency: inv.currency,
    customer: inv.customer,
    customer_account: null,
    description: 'Payment for Invoice',
    excluded_payment_method_types: null,
    last_payment_error: facts.error ?? null,
    latest_charge: facts.charge ?? null,
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action:
      status === 'requires_action'
        ? { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect' } }
        : null,
    on_behalf_of: null,
    payment_method: facts.paymentMethod,
    payment_method_configuration_details: null,
    payment_method_options: null,
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
    status,
    transfer_group: null,
  };
}

function paymentIntentStatus(emu: Emulator, inv: Stripe.Invoice, pendingAction: string | null): string {
  if (inv.status === 'paid') {
    return defaultInvoicePayment(emu, inv)?.status === 'paid' ? 'succeeded' : 'canceled';
  }
  if (inv.status === 'void') {
    return 'canceled';
  }
  return pendingAction ? 'requires_action' : 'requires_payment_method';
}

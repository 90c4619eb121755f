import type Stripe from 'stripe';
import type { Emulator } from './context';
import { defaultInvoicePayment } from './invoice-model';

/**
 * The PaymentIntent behind an invoice's default payment, derived from the invoice (the emulator keeps no separate
 * object): `succeeded` once paid, `canceled` when void or paid out of band, `requires_action` while a 3-D Secure
 * challenge waits, otherwise `requires_payment_method` (nothing charged, nothing in progress). Card payments settle
 * at once here, so `processing` never occurs. Reached through `expand[]=payments.data.payment.payment_intent`.
 */
export function paymentIntentView(emu: Emulator, paymentIntentId: string): Record<string, unknown> | undefined {
  for (const [invoiceId, internals] of emu.state.internals) {
    if (internals.paymentIntentId !== paymentIntentId) {
      continue;
    }
    const inv = emu.state.invoices.get(invoiceId);
    if (!inv) {
      return undefined;
    }
    return {
      id: paymentIntentId,
      object: 'payment_intent',
      amount: inv.amount_due,
      amount_received: inv.status === 'paid' ? inv.amount_paid - (inv.amount_paid_off_stripe ?? 0) : 0,
      currency: inv.currency,
      client_secret: internals.clientSecret,
      customer: inv.customer,
      livemode: false,
      metadata: {},
      payment_method: internals.pendingActionPaymentMethod,
      status: paymentIntentStatus(emu, inv, internals.pendingActionPaymentMethod),
    };
  }
  return undefined;
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

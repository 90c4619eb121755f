import type { Invoice } from '../../entities';

/**
 * Why a payment failed, as Stripe said it: its error code (`card_declined`, `expired_card`,
 * `payment_intent_authentication_failure`…), the issuer's decline code (`insufficient_funds`…) and Stripe's message,
 * which Stripe writes to be shown to the customer. Never card data. One shape for both ways a decline reaches us:
 * the 402 of `invoices.pay` and the `payment_intent.payment_failed` event's `last_payment_error`.
 */
export interface PaymentError {
  code: string;
  declineCode: string | null;
  message: string;
}

/** What the customer must do while the invoice is REQUIRES_ACTION (the status change's reason says it too). */
export const AUTHENTICATION_REQUIRED_REASON =
  'Authentication required: the customer must complete 3-D Secure on the payment page';

/**
 * The one sentence a reader sees for a failed payment (status history, dashboard): "Your card was declined:
 * insufficient funds". The issuer's decline code names the reason when there is one worth naming; otherwise
 * Stripe's own message.
 */
export function paymentErrorReason(error: PaymentError): string {
  if (error.code === 'payment_intent_authentication_failure') {
    return '3-D Secure authentication failed';
  }
  const decline = error.declineCode && error.declineCode !== 'generic_decline' ? error.declineCode : null;
  if (error.code === 'card_declined') {
    return decline ? `Your card was declined: ${decline.replace(/_/g, ' ')}` : 'Your card was declined';
  }
  const message = error.message.replace(/\.$/, '');
  return decline && decline !== error.code ? `${message}: ${decline.replace(/_/g, ' ')}` : message;
}

/** Records `error` as the invoice's last payment error, unless one already recorded is newer. */
/** The invoice's record of its last payment error. */
type PaymentErrorFields = Pick<
  Invoice,
  'lastPaymentErrorCode' | 'lastPaymentErrorDeclineCode' | 'lastPaymentErrorMessage' | 'lastPaymentErrorAt'
>;

export function recordPaymentError(invoice: PaymentErrorFields, error: PaymentError, at: Date): boolean {
  if (invoice.lastPaymentErrorAt && invoice.lastPaymentErrorAt.getTime() > at.getTime()) {
    return false;
  }
  invoice.lastPaymentErrorCode = error.code;
  invoice.lastPaymentErrorDeclineCode = error.declineCode;
  invoice.lastPaymentErrorMessage = error.message;
  invoice.lastPaymentErrorAt = at;
  return true;
}

/** A paid invoice has no payment error to show. */
export function clearPaymentError(invoice: PaymentErrorFields): void {
  invoice.lastPaymentErrorCode = null;
  invoice.lastPaymentErrorDeclineCode = null;
  invoice.lastPaymentErrorMessage = null;
  invoice.lastPaymentErrorAt = null;
}

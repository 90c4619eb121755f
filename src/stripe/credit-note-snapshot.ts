import type Stripe from 'stripe';
import { METADATA } from './metadata';
import { fromStripeAmount } from './stripe-values';

/** A Stripe credit note as the services need it. */
export interface RemoteCreditNote {
  id: string;
  /** The Stripe invoice it credits. */
  stripeInvoiceId: string;
  number: string;
  /** `pre_payment` lowers what an open invoice asks; `post_payment` gives back from a paid one. */
  type: 'pre_payment' | 'post_payment' | 'mixed' | null;
  status: 'issued' | 'void' | null;
  amountMinor: bigint;
  /** What its refunds gave back to the card. */
  refundedMinor: bigint;
  /** Its first refund, if any. */
  refundId: string | null;
  currency: string;
  reason: string | null;
  lines: Array<{ description: string; amountMinor: bigint }>;
  /** Our credit note id from its metadata; null on a note made in the Stripe Dashboard. */
  ourId: string | null;
}

/** A charge as a `charge.refunded` event tells it: which PaymentIntent, how much of it was refunded so far. */
export interface RemoteCharge {
  id: string;
  paymentIntentId: string | null;
  amountCapturedMinor: bigint;
  amountRefundedMinor: bigint;
  currency: string;
}

const idOf = (value: string | { id: string } | null | undefined): string | null =>
  typeof value === 'string' ? value : (value?.id ?? null);

function oneOf<T extends string>(value: string | null | undefined, known: readonly T[]): T | null {
  return known.find((k) => k === value) ?? null;
}

export function toRemoteCreditNote(cn: Stripe.CreditNote): RemoteCreditNote {
  const refunds = cn.refunds ?? [];
  return {
    id: cn.id,
    stripeInvoiceId: idOf(cn.invoice) ?? '',
    number: cn.number,
    type: oneOf(cn.type, ['pre_payment', 'post_payment', 'mixed'] as const),
    status: oneOf(cn.status, ['issued', 'void'] as const),
    amountMinor: fromStripeAmount(cn.total),
    refundedMinor: refunds.reduce((sum, r) => sum + fromStripeAmount(r.amount_refunded), 0n),
    refundId: refunds.length > 0 ? idOf(refunds[0].refund) : null,
    currency: cn.currency,
    reason: cn.memo ?? cn.reason ?? null,
    lines: (cn.lines?.data ?? []).map((l) => ({
      description: l.description ?? '',
      amountMinor: fromStripeAmount(l.amount),
    })),
    ourId: cn.metadata?.[METADATA.creditNoteId] ?? null,
  };
}

export function toRemoteCharge(charge: Stripe.Charge): RemoteCharge {
  return {
    id: charge.id,
    paymentIntentId: idOf(charge.payment_intent),
    amountCapturedMinor: fromStripeAmount(charge.amount_captured),
    amountRefundedMinor: fromStripeAmount(charge.amount_refunded),
    currency: charge.currency,
  };
}

import type Stripe from 'stripe';
import type { Emulator, EventRequest } from './context';
import { StripeApiError, invalidState, paramInvalid, resourceMissing } from './errors';
import { newId, randomToken } from './util';
import { checkChargeStep } from './limits';
import { formatMoney } from './util';

/**
 * Refunds of card charges, full or partial: never more than the charge captured less what was refunded before
 * (Stripe's `amount_too_large` / `charge_already_refunded`). A card refund in test mode succeeds at once; the charge's
 * `amount_refunded` and `refunded` follow, and Stripe sends `refund.created` then `charge.refunded`.
 */

export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

export function getCharge(emu: Emulator, id: string, param = 'charge'): Stripe.Charge {
  const charge = emu.state.charges.get(id);
  if (!charge) {
    throw resourceMissing('charge', id, param);
  }
  return charge;
}

/** The succeeded charge of a PaymentIntent (its latest), as a refund by `payment_intent` finds it. */
export function chargeOfIntent(emu: Emulator, paymentIntentId: string): Stripe.Charge {
  const pi = emu.state.paymentIntents.get(paymentIntentId);
  if (!pi) {
    throw resourceMissing('payment_intent', paymentIntentId, 'payment_intent');
  }
  const charge = typeof pi.latest_charge === 'string' ? emu.state.charges.get(pi.latest_charge) : undefined;
  if (pi.status !== 'succeeded' || !charge) {
    throw invalidState(
      `This PaymentIntent (${pi.id}) does not have a successful charge to refund.`,
      'charge_not_refundable',
      'payment_intent',
    );
  }
  return charge;
}

/** What is left to refund on a charge. */
export function refundable(charge: Stripe.Charge): number {
  return charge.amount_captured - charge.amount_refunded;
}

/** Stripe's checks before a refund of `amount` (all that is left when undefined); returns the amount. */
export function checkRefund(charge: Stripe.Charge, amount: number | undefined): number {
  if (charge.status !== 'succeeded' || !charge.captured) {
    throw invalidState(`Charge ${charge.id} has not succeeded and cannot be refunded.`, 'charge_not_refundable');
  }
  const left = refundable(charge);
  if (left <= 0) {
    throw invalidState(`Charge ${charge.id} has already been refunded.`, 'charge_already_refunded');
  }
  if (amount !== undefined && amount <= 0) {
    throw paramInvalid('amount', 'Invalid positive integer', 'parameter_invalid_integer');
  }
  if (amount !== undefined) {
    checkChargeStep(amount, charge.currency);
  }
  if (amount !== undefined && amount > left) {
    throw new StripeApiError(400, {
      type: 'invalid_request_error',
      code: 'amount_too_large',
      param: 'amount',
      message: `Refund amount (${formatMoney(amount, charge.currency)}) is greater than unrefunded amount on charge (${formatMoney(left, charge.currency)})`,
    });
  }
  return amount ?? left;
}

export interface RefundRequest {
  amount: number;
  reason: Stripe.Refund.Reason | null;
  metadata: Record<string, string>;
}

/** Refund `amount` of `charge` (already checked by `checkRefund`): stored, the charge updated, events sent. */
export function createRefund(
  emu: Emulator,
  charge: Stripe.Charge,
  r: RefundRequest,
  request: EventRequest,
): Stripe.Refund {
  const refund: Stripe.Refund = {
    id: newId('re'),
    object: 'refund',
    amount: r.amount,
    balance_transaction: newId('txn'),
    charge: charge.id,
    created: emu.now(),
    currency: charge.currency,
    customer: typeof charge.customer === 'string' ? charge.customer : null,
    customer_account: null,
    destination_details: {
      card: {
        reference: randomToken(23),
        reference_status: 'available',
        reference_type: 'acquirer_reference_number',
        type: 'refund',
      },
      type: 'card',
    },
    metadata: r.metadata,
    payment_intent: typeof charge.payment_intent === 'string' ? charge.payment_intent : null,
    payment_method: typeof charge.payment_method === 'string' ? charge.payment_method : null,
    reason: r.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
  };
  emu.state.refunds.set(refund.id, refund);
  const previous: Partial<Stripe.Charge> = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += r.amount;
  charge.refunded = charge.amount_refunded >= charge.amount_captured;
  emu.emit('refund.created', refund, request);
  emu.emit('charge.refunded', charge, request, previous);
  return refund;
}

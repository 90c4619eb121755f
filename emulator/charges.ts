import type Stripe from 'stripe';
import type { Emulator } from './context';
import type { CardOutcome } from './payment-methods';
import { newId, randomToken } from './util';

/** Charges: one per card payment attempt that reached the card network (a failed 3-D Secure makes none). */

type Decline = Extract<CardOutcome, { kind: 'decline' }>;

/** What Stripe's Radar and the network said (`charge.outcome`), for an approved or a declined attempt. */
function outcomeOf(decline: Decline | null): Stripe.Charge.Outcome {
  return decline
    ? {
        advice_code: decline.declineCode === 'insufficient_funds' ? 'try_again_later' : 'do_not_try_again',
        network_advice_code: null,
        network_decline_code: null,
        network_status: 'declined_by_network',
        reason: decline.declineCode,
        risk_level: 'normal',
        risk_score: 20,
        seller_message: 'The bank did not return any further details with this decline.',
        type: 'issuer_declined',
      }
    : {
        advice_code: null,
        network_advice_code: null,
        network_decline_code: null,
        network_status: 'approved_by_network',
        reason: null,
        risk_level: 'normal',
        risk_score: 20,
        seller_message: 'Payment complete.',
        type: 'authorized',
      };
}

/** A card charge for `pi` with `pm`: succeeded, or failed with the decline's `failure_code` and message. */
export function createCharge(
  emu: Emulator,
  pi: Stripe.PaymentIntent,
  pm: Stripe.PaymentMethod,
  decline: Decline | null,
  threeDSecure: boolean,
): Stripe.Charge {
  const card = pm.card;
  const succeeded = decline === null;
  const charge: Stripe.Charge = {
    id: newId('ch'),
    object: 'charge',
    amount: pi.amount,
    amount_captured: succeeded ? pi.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: succeeded ? newId('txn') : null,
    billing_details: { ...pm.billing_details },
    calculated_statement_descriptor: 'AGENTHUB',
    captured: succeeded,
    created: emu.now(),
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: decline?.code ?? null,
    failure_message: decline?.message ?? null,
    fraud_details: {},
    livemode: false,
    metadata: {},
    on_behalf_of: null,
    outcome: outcomeOf(decline),
    paid: succeeded,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: {
      card: {
        amount_authorized: succeeded ? pi.amount : null,
        authorization_code: succeeded ? randomToken(6) : null,
        brand: card?.brand ?? null,
        checks: card?.checks ?? null,
        country: card?.country ?? null,
        electronic_commerce_indicator: threeDSecure ? '05' : null,
        exp_month: card?.exp_month ?? 12,
        exp_year: card?.exp_year ?? 2034,
        fingerprint: card?.fingerprint ?? null,
        funding: card?.funding ?? null,
        installments: null,
        last4: card?.last4 ?? null,
        mandate: null,
        network: card?.brand ?? null,
        network_transaction_id: succeeded ? randomToken(15) : null,
        regulated_status: 'unregulated',
        three_d_secure: threeDSecure
          ? {
              authentication_flow: 'challenge',
              electronic_commerce_indicator: '05',
              exemption_indicator: null,
              result: 'authenticated',
              result_reason: null,
              transaction_id: randomToken(32),
              version: '2.2.0',
            }
          : null,
        transaction_link_id: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: null,
    receipt_number: null,
    receipt_url: succeeded ? `${emu.config.publicBaseUrl ?? ''}/receipts/${randomToken(24)}` : null,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: succeeded ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
  emu.state.charges.set(charge.id, charge);
  return charge;
}

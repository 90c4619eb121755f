import type Stripe from 'stripe';
import type { Emulator } from './context';
import { resourceMissing } from './errors';
import { newId } from './util';

/** What happens when a card is charged. */
export type CardOutcome =
  | { kind: 'succeed' }
  | { kind: 'decline'; code: string; declineCode: string; message: string }
  | { kind: 'authenticate' };

interface TestCard {
  brand: string;
  last4: string;
  number: string | null;
  outcome: CardOutcome;
}

const DECLINED = 'Your card was declined.';

/** Stripe's test payment methods (ids) and the guide's card numbers. */
const TEST_CARDS: Record<string, TestCard> = {
  visa: { brand: 'visa', last4: '4242', number: '4242424242424242', outcome: { kind: 'succeed' } },
  mastercard: { brand: 'mastercard', last4: '4444', number: '5555555555554444', outcome: { kind: 'succeed' } },
  chargeDeclined: {
    brand: 'visa',
    last4: '0002',
    number: '4000000000000002',
    outcome: { kind: 'decline', code: 'card_declined', declineCode: 'generic_decline', message: DECLINED },
  },
  chargeDeclinedInsufficientFunds: {
    brand: 'visa',
    last4: '9995',
    number: '4000000000009995',
    outcome: {
      kind: 'decline',
      code: 'card_declined',
      declineCode: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    },
  },
  chargeDeclinedExpiredCard: {
    brand: 'visa',
    last4: '0069',
    number: '4000000000000069',
    outcome: { kind: 'decline', code: 'expired_card', declineCode: 'expired_card', message: 'Your card has expired.' },
  },
  authenticationRequired: {
    brand: 'visa',
    last4: '3184',
    number: '4000002760003184',
    outcome: { kind: 'authenticate' },
  },
  threeDSecure2Required: {
    brand: 'visa',
    last4: '3155',
    number: '4000002500003155',
    outcome: { kind: 'authenticate' },
  },
};

/** Card numbers accepted on the hosted invoice page. */
export const HOSTED_PAGE_CARDS: Record<string, keyof typeof TEST_CARDS> = {
  '4242424242424242': 'visa',
  '4000000000000002': 'chargeDeclined',
  '4000000000009995': 'chargeDeclinedInsufficientFunds',
  '4000000000000069': 'chargeDeclinedExpiredCard',
  '4000002500003155': 'threeDSecure2Required',
  '4000002760003184': 'authenticationRequired',
};

function testCardKey(id: string): string | null {
  const key = id.startsWith('pm_card_') ? id.slice('pm_card_'.length) : null;
  return key && key in TEST_CARDS ? key : null;
}

function buildPaymentMethod(
  emu: Emulator,
  id: string,
  key: string,
  expMonth = 12,
  expYear = 2034,
): Stripe.PaymentMethod {
  const card = TEST_CARDS[key];
  return {
    id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: 'US',
      display_brand: card.brand,
      exp_month: expMonth,
      exp_year: expYear,
      // Opaque per card; the emulator uses it to find the card's test behaviour.
      fingerprint: key,
      funding: 'credit',
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created: emu.now(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}

/** A test payment method id (`pm_card_visa`) or one created on the hosted page; undefined if unknown. */
export function lookupPaymentMethod(emu: Emulator, id: string): Stripe.PaymentMethod | undefined {
  const stored = emu.state.paymentMethods.get(id);
  if (stored) {
    return stored;
  }
  const key = testCardKey(id);
  return key ? buildPaymentMethod(emu, id, key) : undefined;
}

export function requirePaymentMethod(emu: Emulator, id: string, param = 'payment_method'): Stripe.PaymentMethod {
  const pm = lookupPaymentMethod(emu, id);
  if (!pm) {
    throw resourceMissing('PaymentMethod', id, param);
  }
  return pm;
}

export function outcomeOf(pm: Stripe.PaymentMethod): CardOutcome {
  const key = pm.card?.fingerprint ?? 'visa';
  return (TEST_CARDS[key] ?? TEST_CARDS.visa).outcome;
}

/** Store a card entered on the hosted page as a payment method. */
export function createCardPaymentMethod(
  emu: Emulator,
  number: string,
  expMonth: number,
  expYear: number,
): Stripe.PaymentMethod | null {
  const key = HOSTED_PAGE_CARDS[number];
  if (!key) {
    return null;
  }
  const pm = buildPaymentMethod(emu, newId('pm'), key, expMonth, expYear);
  emu.state.paymentMethods.set(pm.id, pm);
  return pm;
}

/** Attaching a shared test id (`pm_card_visa`) creates a new payment method, as Stripe does. */
export function ownPaymentMethod(emu: Emulator, pm: Stripe.PaymentMethod): Stripe.PaymentMethod {
  if (emu.state.paymentMethods.has(pm.id)) {
    return pm;
  }
  const copy: Stripe.PaymentMethod = { ...pm, id: newId('pm'), created: emu.now() };
  emu.state.paymentMethods.set(copy.id, copy);
  return copy;
}

/** Stripe's wire values (numbers, Unix seconds) to ours and back. */

/**
 * Our money is bigint minor units; the SDK sends numbers. Refuse anything a JavaScript number cannot hold
 * exactly instead of silently charging a rounded amount.
 */
export function toStripeAmount(amountMinor: bigint): number {
  if (amountMinor > BigInt(Number.MAX_SAFE_INTEGER) || amountMinor < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError('Amount is outside the safe integer range and cannot be sent to Stripe');
  }
  return Number(amountMinor);
}

/** Stripe's integer minor units as ours; an amount Stripe leaves out (null) is nothing. */
export function fromStripeAmount(amount: number | null | undefined): bigint {
  return BigInt(amount ?? 0);
}

/** Stripe's Unix seconds as a Date; Stripe writes null (or 0) for a moment that has not happened. */
export function fromStripeTime(seconds: number | null | undefined): Date | null {
  return seconds ? new Date(seconds * 1000) : null;
}

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

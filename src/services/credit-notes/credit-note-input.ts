import { BadInputError } from '../shared/errors';

/** Input checks shared by refunds and credit notes: bad input is BAD_USER_INPUT, never a half-made note. */

export function checkAmount(amountMinor: bigint, field = 'amount'): void {
  if (amountMinor <= 0n) {
    throw new BadInputError(`${field} must be a positive amount in minor units`, field);
  }
  if (amountMinor > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BadInputError(`${field} is too large`, field);
  }
}

export function checkReason(reason: string | null | undefined): string | null {
  const trimmed = reason?.trim() || null;
  if (trimmed !== null && trimmed.length > 500) {
    throw new BadInputError('reason must be at most 500 characters', 'reason');
  }
  return trimmed;
}

/**
 * The caller's idempotency key, required: a refund or credit repeated by a client (a timeout, a double click, a
 * retried request) must answer the note already made, never make a second one, and without a key the server cannot
 * tell a retry from a new request.
 */
export function checkRequestKey(key: string | null | undefined): string {
  if (key === undefined || key === null) {
    throw new BadInputError(
      'idempotencyKey is required: repeating a request with the same key answers the same credit note, never a second',
      'idempotencyKey',
    );
  }
  if (!/^[\x21-\x7e]{1,100}$/.test(key)) {
    throw new BadInputError('idempotencyKey must be 1 to 100 printable ASCII characters', 'idempotencyKey');
  }
  return key;
}

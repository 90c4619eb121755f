/**
 * Deterministic idempotency keys (invariant 3 of docs/architecture.md): built from our row id and the operation, so a retry
 * after a crash replays Stripe's stored response instead of repeating the write. Stripe keeps keys for 24 h
 * and rejects a reused key sent with different parameters, so each key names exactly one request.
 */

/** Stripe refuses idempotency keys longer than 255 characters. */
const MAX_KEY_LENGTH = 255;

function key(...parts: string[]): string {
  for (const part of parts) {
    if (part.length === 0) {
      throw new Error('Idempotency key parts must not be empty');
    }
  }
  const value = parts.join(':');
  if (value.length > MAX_KEY_LENGTH) {
    throw new Error(`Idempotency key is longer than ${MAX_KEY_LENGTH} characters`);
  }
  return value;
}

export function customerCreateKey(customerId: string): string {
  return key('customer', customerId, 'create');
}

export function invoiceCreateKey(invoiceId: string): string {
  return key('invoice', invoiceId, 'create');
}

/**
 * `replaces`: the item this line had before it was found gone or wrong and removed; the new item needs a key of its
 * own, or Stripe would replay the removed item's creation for 24 h.
 */
export function invoiceLineKey(invoiceId: string, lineId: string, replaces?: string | null): string {
  return replaces
    ? key('invoice', invoiceId, 'line', lineId, 'replaces', replaces)
    : key('invoice', invoiceId, 'line', lineId);
}

export function invoiceFinalizeKey(invoiceId: string): string {
  return key('invoice', invoiceId, 'finalize');
}

export function invoiceSendKey(invoiceId: string): string {
  return key('invoice', invoiceId, 'send');
}

/** One key per payment attempt: a new attempt (new number) may charge again, a retried one never does. */
export function invoicePayKey(invoiceId: string, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1) {
    throw new Error('Payment attempt must be a positive integer');
  }
  return key('invoice', invoiceId, 'pay', String(attempt));
}

export function invoiceVoidKey(invoiceId: string): string {
  return key('invoice', invoiceId, 'void');
}

/** One reminder per dunning step: a step resumed after a crash replays it instead of e-mailing twice. */
export function invoiceReminderKey(invoiceId: string, step: number): string {
  if (!Number.isSafeInteger(step) || step < 1) {
    throw new Error('Dunning step must be a positive integer');
  }
  return key('invoice', invoiceId, 'dunning', String(step), 'remind');
}

export function invoiceUncollectibleKey(invoiceId: string): string {
  return key('invoice', invoiceId, 'mark_uncollectible');
}

/** One key per credit note of ours (a refund or a credit): a retry never refunds twice. */
export function creditNoteCreateKey(creditNoteId: string): string {
  return key('credit_note', creditNoteId, 'create');
}

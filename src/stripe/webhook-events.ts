import Stripe from 'stripe';
import { jsonTextNestsDeeper } from '../lib/json-depth';
import { MAX_JSON_DEPTH } from '../schema/limits';
import { findUnstorableText } from '../schema/storable-text';
import { toEventRecord } from './stripe-events';
import type { StripeEventRecord } from './stripe-events';

/**
 * Stripe's own tolerance: a signature older than five minutes is refused (replay protection). The SDK applies it to
 * the past only; we refuse a timestamp this far in the future too (a signature made ahead of time would otherwise be
 * replayable until its time came plus five minutes).
 */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

export type SignatureFailureCode =
  | 'missing_signature'
  | 'malformed_signature'
  | 'invalid_signature'
  | 'stale_signature'
  | 'future_signature'
  | 'empty_payload'
  | 'malformed_payload';

export class SignatureError extends Error {
  constructor(
    readonly code: SignatureFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'SignatureError';
  }
}

/** A verified event and which of the configured secrets verified it (0 is the first of the list). */
export interface VerifiedStripeEvent {
  event: StripeEventRecord;
  secretIndex: number;
}

/**
 * Verifies the `Stripe-Signature` header against the raw body with each of `secrets` in turn (during a roll of the
 * endpoint's secret Stripe signs with both, and either must be accepted) and returns the event as it is stored, its
 * JSON the body as received. `nowMs` is the injectable clock's time, for the age and future checks. Every failure
 * becomes a SignatureError with a short reason of our own: the SDK's messages are long, and none of ours echo the
 * header.
 */
export function verifyStripeEvent(
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
  nowMs: number,
): VerifiedStripeEvent {
  if (!header) {
    throw new SignatureError('missing_signature', 'The Stripe-Signature header is missing');
  }
  if (rawBody.length === 0) {
    throw new SignatureError('empty_payload', 'The request body is empty');
  }
  let event: Stripe.Event | undefined;
  let secretIndex = -1;
  let failure: SignatureError | undefined;
  for (const [index, secret] of secrets.entries()) {
    try {
      event = Stripe.webhooks.constructEvent(rawBody, header, secret, SIGNATURE_TOLERANCE_SECONDS, undefined, nowMs);
      secretIndex = index;
      break;
    } catch (error) {
      failure = classify(error);
      // Only a mismatch depends on the secret: a malformed header or a stale timestamp is the same for every one.
      if (failure.code !== 'invalid_signature') {
        throw failure;
      }
    }
  }
  if (!event) {
    throw failure ?? classify(new Error('no secret'));
  }
  const signedAt = signatureTimestamp(header);
  if (signedAt !== undefined && signedAt - Math.floor(nowMs / 1000) > SIGNATURE_TOLERANCE_SECONDS) {
    throw new SignatureError(
      'future_signature',
      `The signature timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} seconds in the future (a clock far off, or a signature made ahead of time)`,
    );
  }
  const problem = eventShapeProblem(event, rawBody);
  if (problem) {
    throw new SignatureError('malformed_payload', problem);
  }
  return { event: toEventRecord(event, rawBody.toString('utf8')), secretIndex };
}

/** The `t=` of a header the SDK already verified (so it is there and numeric). */
function signatureTimestamp(header: string): number | undefined {
  const item = header.split(',').find((part) => part.trim().startsWith('t='));
  const value = item === undefined ? NaN : Number(item.trim().slice(2));
  return Number.isFinite(value) ? value : undefined;
}

function classify(error: unknown): SignatureError {
  if (error instanceof SyntaxError) {
    return new SignatureError('malformed_payload', 'The body is signed but is not valid JSON');
  }
  const message = error instanceof Error ? error.message : '';
  if (message.startsWith('Timestamp outside the tolerance zone')) {
    return new SignatureError(
      'stale_signature',
      `The signature timestamp is more than ${SIGNATURE_TOLERANCE_SECONDS} seconds old (possible replay)`,
    );
  }
  if (message.startsWith('Unable to extract') || message.startsWith('No signatures found with expected scheme')) {
    return new SignatureError(
      'malformed_signature',
      'The Stripe-Signature header is malformed: expected t=<timestamp>,v1=<signature>',
    );
  }
  return new SignatureError(
    'invalid_signature',
    'The signature does not match the body: wrong signing secret, or the body was altered or re-encoded',
  );
}

/** The latest Unix time PostgreSQL's to_timestamp() stores as a date we can use (9999-12-31). */
const MAX_CREATED = 253_402_300_799;

/** Why a signed body is not an event we can store, or null when it is one. */
function eventShapeProblem(value: unknown, rawBody: Buffer): string | null {
  if (typeof value !== 'object' || value === null) {
    return 'The body is signed but is not a Stripe event (id, type, created)';
  }
  const event = value as Record<string, unknown>;
  const data = event.data as Record<string, unknown> | undefined;
  const shaped =
    typeof event.id === 'string' &&
    event.id.length > 0 &&
    event.id.length <= 255 &&
    typeof event.type === 'string' &&
    event.type.length > 0 &&
    event.type.length <= 255 &&
    typeof event.created === 'number' &&
    typeof data === 'object' &&
    data !== null &&
    typeof data.object === 'object' &&
    data.object !== null;
  if (!shaped) {
    return 'The body is signed but is not a Stripe event (id, type, created)';
  }
  if (!Number.isInteger(event.created) || (event.created as number) < 0 || (event.created as number) > MAX_CREATED) {
    return "The event's created is not a Unix time in seconds";
  }
  // PostgreSQL's jsonb refuses what no real event holds: nesting past its stack, a NUL or an unpaired surrogate (which
  // only a \u escape can carry in UTF-8, hence the fast byte search first). Refused here, not as a 500 that
  // Stripe would retry for three days.
  if (jsonTextNestsDeeper(rawBody, MAX_JSON_DEPTH)) {
    return `The event nests deeper than ${MAX_JSON_DEPTH} levels`;
  }
  if (rawBody.includes('\\u') && findUnstorableText(event) !== null) {
    return 'The event contains a \\u0000 character or an unpaired surrogate, which cannot be stored';
  }
  return null;
}

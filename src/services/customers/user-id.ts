/**
 * AgentHub user ids are text, but JSON clients also send them as numbers: the payment guide's own pay example sends
 * `"user_id": 123`. A JSON number names the user whose id is its decimal digits (`123` → "123", exactly what
 * `?user_id=123` carries) when it is a whole number from 0 to 2^53 − 1. Any other number (12.5, -1, 1e21, 2^53) is
 * not an id, or may already have been rounded by a float on the way and name someone else, so it is refused.
 */
export const USER_ID_NUMBER_RULE = `a whole JSON number from 0 to ${Number.MAX_SAFE_INTEGER}`;

/** A JSON number that names a user: a safe, non-negative integer (not -0). */
export function isUserIdNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && !Object.is(value, -0);
}

/** `123` → "123"; every other value is returned as it came, for the caller's own rules about strings. */
export function userIdFromJson(value: unknown): unknown {
  return isUserIdNumber(value) ? String(value) : value;
}

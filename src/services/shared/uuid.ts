const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * True for text PostgreSQL reads as a `uuid`. Our ids are UUIDs: an id that is not one names nothing, and is answered
 * as not found without a query (PostgreSQL would refuse it with an error, a 500).
 */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

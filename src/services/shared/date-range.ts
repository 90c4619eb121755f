import { BadInputError } from './errors';

/** Dates this service stores or compares: from the Unix epoch to the end of year 9999. */
export const EARLIEST_DATE = new Date(Date.UTC(1970, 0, 1));
export const LATEST_DATE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999));

export function isStorableDate(value: Date): boolean {
  const time = value.getTime();
  return !Number.isNaN(time) && time >= EARLIEST_DATE.getTime() && time <= LATEST_DATE.getTime();
}

/**
 * A date from a client, refused with the field's name when outside 1970–9999: beyond that range the database cannot
 * take it (the error came back as a 500), and no billing question needs it.
 */
export function requireStorableDate(value: Date, field: string): Date {
  if (!isStorableDate(value)) {
    throw new BadInputError(`${field} must be a date between 1970-01-01 and 9999-12-31`, field);
  }
  return value;
}

/** Date and time fields of an ISO 8601 date-time, checked before `Date.parse` sees them. */
const DATE_TIME_FIELDS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/;
/** The explicit offset that ends it: without one, `Date.parse` reads the server's local time zone. */
const ZONE = /(?:Z|[+-]\d{2}:\d{2})$/i;

/**
 * Epoch milliseconds of an ISO 8601 date-time. `Date.parse` rolls fields over instead of failing (2026-02-30 becomes
 * 2 March, T24:00 the next day), which would bill usage in another month, so each field is range-checked first.
 */
export function parseIsoTimestamp(value: unknown): number | 'malformed' | 'impossible' | 'no_zone' {
  const fields = typeof value === 'string' ? DATE_TIME_FIELDS.exec(value) : null;
  if (!fields) {
    return 'malformed';
  }
  if (!ZONE.test(value as string)) {
    return 'no_zone';
  }
  const [year, month, day, hour, minute] = fields.slice(1, 6).map(Number);
  const second = Number(fields[6] ?? 0);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) {
    return 'impossible';
  }
  const at = Date.parse(value as string);
  return Number.isNaN(at) ? 'malformed' : at;
}

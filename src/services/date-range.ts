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

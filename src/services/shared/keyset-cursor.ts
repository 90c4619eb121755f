import { isStorableDate } from './date-range';
import { BadInputError } from './errors';

/**
 * Opaque cursor for keyset pagination ordered by (time, id), newest first: base64url of `<ISO time>|<id>`.
 * One format for every connection (invoices, webhook events), so a client handles them alike.
 */
export function encodeCursor(at: Date, id: string): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(
  cursor: string,
  validId: (id: string) => boolean = (id) => id.length > 0,
): { at: Date; id: string } {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const split = text.indexOf('|');
  const at = new Date(text.slice(0, split));
  const id = text.slice(split + 1);
  if (split < 0 || !validId(id) || !isStorableDate(at)) {
    throw new BadInputError('Invalid cursor', 'after');
  }
  return { at, id };
}

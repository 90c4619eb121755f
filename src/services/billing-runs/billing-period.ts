import { BadInputError, quote } from '../shared/errors';

/** A calendar-month billing period in UTC, `[start, end)`. */
export interface BillingPeriod {
  /** `YYYY-MM` */
  key: string;
  start: Date;
  end: Date;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parsePeriod(key: string): BillingPeriod {
  const match = PERIOD.exec(key);
  if (!match) {
    throw new BadInputError(`Period must be YYYY-MM (got ${quote(key)})`, 'period');
  }
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  if (year < 2000 || year > 2999) {
    throw new BadInputError(`Period year must be between 2000 and 2999 (got ${quote(key)})`, 'period');
  }
  return { key, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

/** The period containing `at` (UTC). */
export function periodOf(at: Date): BillingPeriod {
  return parsePeriod(`${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`);
}

/** The period just before `period`. */
export function previousPeriod(period: BillingPeriod): BillingPeriod {
  return periodOf(new Date(period.start.getTime() - 1));
}

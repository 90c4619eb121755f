import type { InvoiceStatus } from './generated/graphql';

export const STATUS_LABELS: Record<InvoiceStatus, string> = {
  DRAFT: 'Draft',
  OPEN: 'Open',
  PROCESSING: 'Processing',
  REQUIRES_ACTION: 'Authentication required',
  PAYMENT_FAILED: 'Payment failed',
  PAID: 'Paid',
  VOID: 'Void',
  UNCOLLECTIBLE: 'Uncollectible',
};

export const STATUSES = Object.keys(STATUS_LABELS) as InvoiceStatus[];

/** Statuses in which the hosted invoice page takes a payment. */
export const PAYABLE: readonly InvoiceStatus[] = ['OPEN', 'PAYMENT_FAILED', 'REQUIRES_ACTION'];
/** Statuses an admin may cancel (void) from. */
export const CANCELLABLE: readonly InvoiceStatus[] = [
  'DRAFT',
  'OPEN',
  'PAYMENT_FAILED',
  'REQUIRES_ACTION',
  'UNCOLLECTIBLE',
];

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatDate(iso: string | null | undefined): string {
  return iso ? dateFormat.format(new Date(iso)) : '—';
}

export function formatDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

/** Integer minor units → a localised amount, with the currency's own number of decimals (JPY has none). */
export function formatMinor(amountMinor: number, currency: string): string {
  const format = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(amountMinor / 10 ** digits);
}

/** Sums per currency (a page may mix currencies): "$12.00 + €3.00". */
export function formatTotals(amounts: Array<{ amountMinor: number; currency: string }>): string {
  const byCurrency = new Map<string, number>();
  for (const { amountMinor, currency } of amounts) {
    byCurrency.set(currency, (byCurrency.get(currency) ?? 0) + amountMinor);
  }
  if (byCurrency.size === 0) {
    return '—';
  }
  return [...byCurrency].map(([currency, minor]) => formatMinor(minor, currency)).join(' + ');
}

/**
 * A unit price as the exact decimal the server sent ("0.000002"), after the currency's symbol: never through a float,
 * which would round prices finer than a cent.
 */
export function formatUnitPrice(unitAmount: string, currency: string): string {
  const parts = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() }).formatToParts(
    0,
  );
  const symbol = parts.find((part) => part.type === 'currency')?.value ?? currency.toUpperCase();
  return `${symbol}${unitAmount}`;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** An exact decimal string with the locale's grouping ("1234567.5" → "1,234,567.5"), never through a float. */
export function formatDecimal(value: string): string {
  const match = DECIMAL.exec(value);
  if (!match) {
    return value;
  }
  const separator = (1.5).toLocaleString().charAt(1);
  return `${BigInt(match[1]).toLocaleString()}${match[2] ? `${separator}${match[2]}` : ''}`;
}

/** `a − b` for non-negative exact decimal strings ("1500" − "1440" = "60"), or undefined when either is not one. */
export function subtractDecimals(a: string, b: string): string | undefined {
  const [ma, mb] = [DECIMAL.exec(a), DECIMAL.exec(b)];
  if (!ma || !mb) {
    return undefined;
  }
  const scale = Math.max(ma[2]?.length ?? 0, mb[2]?.length ?? 0);
  const scaled = (m: RegExpExecArray) => BigInt(m[1] + (m[2] ?? '').padEnd(scale, '0'));
  const difference = scaled(ma) - scaled(mb);
  const sign = difference < 0n ? '-' : '';
  const digits = (difference < 0n ? -difference : difference).toString().padStart(scale + 1, '0');
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`.replace(/\.?0+$/, '');
  return sign + text;
}

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

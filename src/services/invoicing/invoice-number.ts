/**
 * `PREFIX-YYYY-MM-NNNNNN-YYYYMMDD`: prefix, billing period, zero-padded sequence within the period, creation
 * date (UTC), e.g. `AH-2024-01-000001-20240201`. The sequence comes from one atomic upsert per (prefix, period).
 */
export function formatInvoiceNumber(prefix: string, period: string, sequence: number, createdAt: Date): string {
  const day = createdAt.toISOString().slice(0, 10).replace(/-/g, '');
  return `${prefix}-${period}-${String(sequence).padStart(6, '0')}-${day}`;
}

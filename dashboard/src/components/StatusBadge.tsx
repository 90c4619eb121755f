import type { InvoiceStatus } from '../generated/graphql';
import { STATUS_LABELS } from '../format';

/** The invoice's status as text and colour; the text alone carries the meaning (colour is never the only cue). */
export function StatusBadge({ status }: { status: InvoiceStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {STATUS_LABELS[status]}
    </span>
  );
}

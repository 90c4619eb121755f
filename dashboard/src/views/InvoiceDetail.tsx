import { useCallback, useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { ApiError, request } from '../api';
import { InvoicePayment } from '../embed/InvoicePayment';
import { CancelInvoiceDocument, InvoiceDocument } from '../generated/graphql';
import type { InvoiceQuery } from '../generated/graphql';
import {
  CANCELLABLE,
  STATUS_LABELS,
  formatDate,
  formatDateTime,
  formatDecimal,
  formatUnitPrice,
  subtractDecimals,
} from '../format';
import { useStatusEvents } from '../live';
import { hrefOf, onLinkClick } from '../router';
import type { Session } from '../session';

type Invoice = InvoiceQuery['invoice'];

const SOURCE_LABELS: Record<string, string> = {
  API: 'API',
  WEBHOOK: 'Stripe',
  RECONCILIATION: 'Reconciliation',
  BILLING_RUN: 'Billing run',
  SYSTEM: 'System',
};

/**
 * One invoice: its payment (`InvoicePayment`: amount due, live status, decline reason, 3-D Secure, Pay on Stripe's
 * hosted page), lines, totals, the status history and, for admins, Cancel.
 */
export function InvoiceDetail({ session, id }: { session: Session; id: string }) {
  const [invoice, setInvoice] = useState<Invoice>();
  const [error, setError] = useState<string>();

  const load = useCallback(async () => {
    try {
      const data = await request(InvoiceDocument, { id }, session.token);
      setInvoice(data.invoice);
      setError(undefined);
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.code === 'NOT_FOUND'
          ? 'No such invoice, or it is not yours.'
          : failure instanceof Error
            ? failure.message
            : String(failure),
      );
    }
  }, [id, session.token]);

  useEffect(() => {
    setInvoice(undefined);
    void load();
  }, [load]);

  // The badge moves at once; the history, amounts and links follow from one reload.
  const live = useStatusEvents(
    (event) => {
      if (event.invoice.id !== id) {
        return;
      }
      setInvoice((current) => (current ? { ...current, status: event.status } : current));
      void load();
    },
    () => void load(),
  );

  const back = { page: 'invoices' } as const;
  return (
    <section aria-labelledby="invoice-title">
      <p>
        <a href={hrefOf(back)} onClick={onLinkClick(back)}>
          ← All invoices
        </a>
      </p>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {!invoice && !error && (
        <p className="loading" role="status">
          Loading the invoice…
        </p>
      )}
      {invoice && <InvoiceBody invoice={invoice} session={session} live={live} onChanged={load} />}
    </section>
  );
}

function InvoiceBody({
  invoice,
  session,
  live,
  onChanged,
}: {
  invoice: Invoice;
  session: Session;
  live: string;
  onChanged: () => Promise<void>;
}) {
  return (
    <>
      <div className="title-row">
        <h1 tabIndex={-1} id="invoice-title">
          Invoice {invoice.number}
        </h1>
        <span className={`live live-${live}`}>{live === 'offline' ? 'Live updates paused' : 'Live'}</span>
      </div>
      <InvoicePayment invoiceId={invoice.id} token={session.token} invoice={invoice} />
      <dl className="facts">
        <div>
          <dt>Period</dt>
          <dd>{invoice.period}</dd>
        </div>
        {session.role !== 'user' && (
          <div>
            <dt>User</dt>
            <dd>{invoice.userId}</dd>
          </div>
        )}
        <div>
          <dt>Created</dt>
          <dd>{formatDate(invoice.createdAt)}</dd>
        </div>
        <div>
          <dt>Due</dt>
          <dd>{formatDate(invoice.dueDate)}</dd>
        </div>
        {invoice.paidAt && (
          <div>
            <dt>Paid</dt>
            <dd>{formatDateTime(invoice.paidAt)}</dd>
          </div>
        )}
        {invoice.voidReason && (
          <div>
            <dt>Void reason</dt>
            <dd>{invoice.voidReason}</dd>
          </div>
        )}
      </dl>
      <div className="actions">
        {invoice.pdfUrl && (
          <a className="button secondary" href={invoice.pdfUrl} target="_blank" rel="noopener">
            PDF<span className="visually-hidden"> of invoice {invoice.number} (new tab)</span>
          </a>
        )}
      </div>
      <h2>Lines</h2>
      <div className="table-wrap">
        <table className="lines">
          <thead>
            <tr>
              <th scope="col">Description</th>
              <th scope="col" className="num">
                Quantity
              </th>
              <th scope="col" className="num">
                Unit price
              </th>
              <th scope="col" className="num">
                Amount
              </th>
            </tr>
          </thead>
          <tbody>
            {invoice.lines.map((line) => (
              <tr key={line.id}>
                <th scope="row" data-label="Description">
                  {line.description}
                  {line.metric && <span className="metric"> {line.metric}</span>}
                </th>
                <td data-label="Quantity" className="num">
                  <Quantity quantity={line.quantity} billable={line.billableQuantity} />
                </td>
                <td data-label="Unit price" className="num">
                  {line.unitAmount ? formatUnitPrice(line.unitAmount, invoice.amount.currency) : '—'}
                </td>
                <td data-label="Amount" className="num">
                  {line.amount.formatted}
                </td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row" colSpan={3}>
                Total
              </th>
              <td className="num" data-label="Total">
                {invoice.amount.formatted}
              </td>
            </tr>
            <tr>
              <th scope="row" colSpan={3}>
                Paid
              </th>
              <td className="num" data-label="Paid">
                {invoice.amountPaid.formatted}
              </td>
            </tr>
            <tr>
              <th scope="row" colSpan={3}>
                Amount due
              </th>
              <td className="num" data-label="Amount due">
                <strong>{invoice.amountRemaining.formatted}</strong>
              </td>
            </tr>
          </tfoot>
        </table>
      </div>
      <h2>Status history</h2>
      <ol className="timeline">
        {invoice.statusHistory.map((change, index) => (
          <li key={`${change.occurredAt}-${index}`}>
            <time dateTime={change.occurredAt}>{formatDateTime(change.occurredAt)}</time>{' '}
            <span>
              {change.from ? `${STATUS_LABELS[change.from]} → ` : ''}
              <strong>{STATUS_LABELS[change.to]}</strong>
            </span>{' '}
            <span className="source">
              by {SOURCE_LABELS[change.source] ?? change.source}
              {change.reason ? `: ${change.reason}` : ''}
            </span>
          </li>
        ))}
      </ol>
      {session.role === 'admin' && CANCELLABLE.includes(invoice.status) && (
        <CancelForm invoice={invoice} session={session} onChanged={onChanged} />
      )}
    </>
  );
}

/** The quantity, and when part of it was free, how much was billed and how much the free allowance covered. */
function Quantity({ quantity, billable }: { quantity: string; billable: string | null }) {
  const free = billable === null ? undefined : subtractDecimals(quantity, billable);
  return (
    <>
      {formatDecimal(quantity)}
      {free !== undefined && free !== '0' && billable !== null && (
        <span className="allowance">
          {formatDecimal(billable)} billed, {formatDecimal(free)} free
        </span>
      )}
    </>
  );
}

function CancelForm({
  invoice,
  session,
  onChanged,
}: {
  invoice: Invoice;
  session: Session;
  onChanged: () => Promise<void>;
}) {
  const reasonId = useId();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setMessage(undefined);
    try {
      const data = await request(
        CancelInvoiceDocument,
        { invoiceId: invoice.id, reason: reason.trim() || null },
        session.token,
      );
      const result = data.cancelInvoice;
      if (result.__typename === 'Invoice') {
        setOpen(false);
        await onChanged();
      } else {
        setMessage(result.message);
      }
    } catch (failure) {
      setMessage(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  }

  if (!open) {
    return (
      <div className="danger-zone">
        <button type="button" className="danger" onClick={() => setOpen(true)}>
          Cancel invoice…
        </button>
      </div>
    );
  }
  return (
    <form className="danger-zone" onSubmit={submit} aria-label="Cancel this invoice">
      <label htmlFor={reasonId}>Reason (shown on the invoice)</label>
      <input id={reasonId} value={reason} onChange={(event) => setReason(event.target.value)} maxLength={500} />
      <div className="actions">
        <button type="submit" className="danger" disabled={busy}>
          Void invoice {invoice.number}
        </button>
        <button type="button" className="secondary" onClick={() => setOpen(false)} disabled={busy}>
          Keep it
        </button>
      </div>
      {message && (
        <p className="error" role="alert">
          {message}
        </p>
      )}
    </form>
  );
}

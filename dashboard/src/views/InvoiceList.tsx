import { useId } from 'react';
import { request } from '../api';
import { LoadMore } from '../components/LoadMore';
import { StatusBadge } from '../components/StatusBadge';
import { InvoicesDocument } from '../generated/graphql';
import type { InvoiceStatus } from '../generated/graphql';
import { STATUSES, STATUS_LABELS, formatDate, formatTotals } from '../format';
import { useStatusEvents } from '../live';
import { hrefOf, navigate, onLinkClick } from '../router';
import type { Session } from '../session';
import { pageOf, usePagedList } from '../use-pages';

const PAGE = 50;

/** Invoices, newest first, filtered by status and period; each badge follows the invoice's status live. */
export function InvoiceList({ session, status, period }: { session: Session; status?: string; period?: string }) {
  const statusId = useId();
  const periodId = useId();
  const validStatus = STATUSES.includes(status as InvoiceStatus) ? (status as InvoiceStatus) : undefined;
  const list = usePagedList(
    async (after) =>
      pageOf(
        (
          await request(
            InvoicesDocument,
            { status: validStatus ?? null, period: period || null, first: PAGE, after },
            session.token,
          )
        ).invoices,
      ),
    JSON.stringify([validStatus, period, session.token]),
  );
  const { rows, total, error } = list;

  const live = useStatusEvents(
    (event) =>
      list.update((current) =>
        current.map((row) => (row.id === event.invoice.id ? { ...row, status: event.status } : row)),
      ),
    () => void list.reload(),
  );

  return (
    <section aria-labelledby="invoices-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="invoices-title">
          Invoices
        </h1>
        <span className={`live live-${live}`} role="status">
          {live === 'offline' ? 'Live updates paused' : 'Live'}
        </span>
      </div>
      <form className="filters" role="search" aria-label="Filter invoices" onSubmit={(event) => event.preventDefault()}>
        <div className="field">
          <label htmlFor={statusId}>Status</label>
          <select
            id={statusId}
            value={validStatus ?? ''}
            onChange={(event) =>
              navigate({ page: 'invoices', status: event.target.value || undefined, period }, { replace: true })
            }
          >
            <option value="">Any status</option>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {STATUS_LABELS[value]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={periodId}>Period</label>
          <input
            id={periodId}
            type="month"
            value={period ?? ''}
            onChange={(event) =>
              navigate(
                { page: 'invoices', status: validStatus, period: event.target.value || undefined },
                { replace: true },
              )
            }
          />
        </div>
      </form>
      {error && (
        <p className="error" role="alert">
          Could not load invoices: {error}
        </p>
      )}
      {!rows && !error && (
        <p className="loading" role="status">
          Loading invoices…
        </p>
      )}
      {rows && (
        <>
          <p className="totals" data-testid="totals">
            {total === 1 ? '1 invoice' : `${total} invoices`}
            {rows.length > 0 && (
              <>
                {' '}
                · {rows.length < total ? `${rows.length} shown, totalling` : 'totalling'}{' '}
                <strong>{formatTotals(rows.map((row) => row.amount))}</strong>
              </>
            )}
          </p>
          {rows.length === 0 ? (
            <p className="empty">No invoices match these filters.</p>
          ) : (
            <div className="table-wrap">
              <table className="invoices">
                <caption className="visually-hidden">Invoices, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Number</th>
                    {session.role !== 'user' && <th scope="col">User</th>}
                    <th scope="col">Period</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="num">
                      Amount
                    </th>
                    <th scope="col">Due</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row) => {
                    const route = { page: 'invoice', id: row.id } as const;
                    return (
                      <tr key={row.id} data-invoice-id={row.id}>
                        <th scope="row" data-label="Number">
                          <a href={hrefOf(route)} onClick={onLinkClick(route)}>
                            {row.number}
                          </a>
                        </th>
                        {session.role !== 'user' && <td data-label="User">{row.userId}</td>}
                        <td data-label="Period">{row.period}</td>
                        <td data-label="Status">
                          <StatusBadge status={row.status} />
                        </td>
                        <td data-label="Amount" className="num">
                          {row.amount.formatted}
                        </td>
                        <td data-label="Due">{formatDate(row.dueDate)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
          <LoadMore more={list.more} />
        </>
      )}
    </section>
  );
}

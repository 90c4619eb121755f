import { useId } from 'react';
import { request } from '../../api';
import { StatusBadge } from '../../components/StatusBadge';
import { DunningInvoicesDocument } from '../../generated/graphql';
import { formatDate } from '../../format';
import { hrefOf, onLinkClick } from '../../router';
import type { Session } from '../../session';
import { usePeriodQuery } from '../../use-query';

/** Admin: the invoices of a period in dunning (`dunningInvoices`), the next step first. */
export function Dunning({ session, period: initial }: { session: Session; period?: string }) {
  const periodId = useId();
  const {
    period,
    setPeriod,
    data: rows,
    error,
    busy,
    submit: show,
  } = usePeriodQuery(
    initial,
    async (month) => (await request(DunningInvoicesDocument, { period: month }, session.token)).dunningInvoices,
    { keepWhileBusy: true },
  );

  return (
    <section aria-labelledby="dunning-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="dunning-title">
          Dunning
        </h1>
      </div>
      <form className="filters panel" aria-label="Invoices in dunning" onSubmit={show}>
        <div className="field">
          <label htmlFor={periodId}>Period</label>
          <input id={periodId} type="month" value={period} onChange={(event) => setPeriod(event.target.value)} />
        </div>
        <div className="field field-button">
          <button type="submit" disabled={busy}>
            {busy ? 'Loading…' : 'Show'}
          </button>
        </div>
        <p className="hint field-wide">
          Unpaid invoices of the period that get reminders and payment retries on the policy’s days.
        </p>
      </form>
      {error && (
        <p className="error" role="alert">
          Could not load dunning: {error}
        </p>
      )}
      {rows && rows.length === 0 && <p role="status">No invoice of {period} is or was in dunning.</p>}
      {rows && rows.length > 0 && (
        <div className="table-wrap">
          <table className="cards">
            <caption className="visually-hidden">Invoices of {period} in dunning</caption>
            <thead>
              <tr>
                <th scope="col">Invoice</th>
                <th scope="col">User</th>
                <th scope="col">Status</th>
                <th scope="col">Dunning</th>
                <th scope="col">Steps done</th>
                <th scope="col">Next step</th>
                <th scope="col">Last step</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ invoice, dunning }) => (
                <tr key={invoice.id}>
                  <th scope="row" data-label="Invoice">
                    <a
                      href={hrefOf({ page: 'invoice', id: invoice.id })}
                      onClick={onLinkClick({ page: 'invoice', id: invoice.id })}
                    >
                      {invoice.number}
                    </a>
                  </th>
                  <td data-label="User">{invoice.userId}</td>
                  <td data-label="Status">
                    <StatusBadge status={invoice.status} />
                  </td>
                  <td data-label="Dunning">{dunning.state}</td>
                  <td data-label="Steps done">{dunning.step}</td>
                  <td data-label="Next step">{dunning.nextAttemptAt ? formatDate(dunning.nextAttemptAt) : '—'}</td>
                  <td data-label="Last step">
                    {dunning.lastAttemptAt ? `${formatDate(dunning.lastAttemptAt)}: ${dunning.lastOutcome ?? ''}` : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

import { useId } from 'react';
import { request } from '../../api';
import { ReconcileDryRunDocument } from '../../generated/graphql';
import type { ReconcileDryRunMutation } from '../../generated/graphql';
import { formatMinor } from '../../format';
import type { Session } from '../../session';
import { usePeriodQuery } from '../../use-query';

type Report = ReconcileDryRunMutation['reconcile'];

const ACTIONS: Record<string, string> = {
  status: 'Status',
  amount_paid: 'Amount paid',
  resume: 'Resume a half-made draft',
  payment_timeout: 'Release a payment that never reached Stripe',
  send: 'Send the unsent invoice',
  sent_at: 'Record that Stripe sent it',
  reissue: 'Void and invoice again',
};

/**
 * Admin: a reconciliation dry run (`reconcile(dryRun: true)`): what comparing a period's invoices with Stripe would
 * change, changing nothing. Applying is the CLI's (`npm run billing -- reconcile`) or the scheduler's.
 */
export function Reconcile({ session, period: initial }: { session: Session; period?: string }) {
  const periodId = useId();
  const {
    period,
    setPeriod,
    data: report,
    error,
    busy,
    submit: run,
  } = usePeriodQuery(
    initial,
    async (month) => (await request(ReconcileDryRunDocument, { period: month }, session.token)).reconcile,
  );

  return (
    <section aria-labelledby="reconcile-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="reconcile-title">
          Reconcile with Stripe
        </h1>
      </div>
      <form className="filters panel" aria-label="Reconciliation dry run" onSubmit={run}>
        <div className="field">
          <label htmlFor={periodId}>Period</label>
          <input id={periodId} type="month" value={period} onChange={(event) => setPeriod(event.target.value)} />
        </div>
        <div className="field field-button">
          <button type="submit" disabled={busy}>
            {busy ? 'Comparing…' : 'Dry run'}
          </button>
        </div>
        <p className="hint field-wide">
          Compares the period’s invoices with Stripe and lists what reconciliation would change. A dry run changes
          nothing.
        </p>
      </form>
      {busy && (
        <p className="loading" role="status">
          Comparing {period} with Stripe…
        </p>
      )}
      {error && (
        <p className="error" role="alert">
          The dry run failed: {error}
        </p>
      )}
      {report && <ReportView report={report} />}
    </section>
  );
}

function ReportView({ report }: { report: Report }) {
  const clean =
    report.changes.length === 0 &&
    report.orphans.length === 0 &&
    report.warnings.length === 0 &&
    report.errors.length === 0;
  return (
    <div className="report" data-testid="reconcile-report">
      <h2>
        Dry run of {report.period}: {report.checked} {report.checked === 1 ? 'invoice' : 'invoices'} compared
      </h2>
      {clean ? (
        <p className="success" role="status">
          Everything matches Stripe: nothing to change.
        </p>
      ) : (
        <p className="notice" role="status">
          {report.changes.length} {report.changes.length === 1 ? 'change' : 'changes'} would be applied;{' '}
          {report.orphans.length} Stripe {report.orphans.length === 1 ? 'invoice has' : 'invoices have'} no invoice
          here; {report.warnings.length} {report.warnings.length === 1 ? 'warning' : 'warnings'}; {report.errors.length}{' '}
          {report.errors.length === 1 ? 'error' : 'errors'}.
        </p>
      )}
      {report.changes.length > 0 && (
        <>
          <h3>Would change</h3>
          <div className="table-wrap">
            <table className="cards">
              <caption className="visually-hidden">Changes a reconciliation would apply</caption>
              <thead>
                <tr>
                  <th scope="col">Invoice</th>
                  <th scope="col">What</th>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                </tr>
              </thead>
              <tbody>
                {report.changes.map((change, index) => (
                  <tr key={`${change.invoiceId}-${index}`}>
                    <th scope="row" data-label="Invoice">
                      {change.number}
                    </th>
                    <td data-label="What">{ACTIONS[change.action] ?? change.action}</td>
                    <td data-label="From">{change.from}</td>
                    <td data-label="To">{change.to}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      {report.orphans.length > 0 && (
        <>
          <h3>In Stripe only</h3>
          <ul>
            {report.orphans.map((orphan) => (
              <li key={orphan.stripeInvoiceId}>
                <span className="mono">{orphan.stripeInvoiceId}</span> {orphan.number ? `(${orphan.number})` : ''}{' '}
                {orphan.status ?? ''}, {formatMinor(orphan.amountDueMinor, orphan.currency)} due
              </li>
            ))}
          </ul>
        </>
      )}
      {[
        ['Warnings: need a person', report.warnings],
        ['Errors: could not be checked (run again)', report.errors],
      ].map(([title, issues]) =>
        (issues as Report['warnings']).length > 0 ? (
          <div key={title as string}>
            <h3>{title as string}</h3>
            <ul>
              {(issues as Report['warnings']).map((issue, index) => (
                <li key={index}>
                  {issue.number && <strong>{issue.number}: </strong>}
                  {issue.message}
                </li>
              ))}
            </ul>
          </div>
        ) : null,
      )}
    </div>
  );
}

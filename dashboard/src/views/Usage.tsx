import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { DailyChart } from '../components/DailyChart';
import { UsageViewDocument } from '../generated/graphql';
import type { UsageViewQuery } from '../generated/graphql';
import { formatDateTime, formatDecimal, formatUnitPrice, subtractDecimals } from '../format';
import { navigate } from '../router';
import type { Session } from '../session';
import { currentPeriod, useQuery } from '../use-query';

type Line = UsageViewQuery['usageSummary']['lines'][number];

const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/**
 * Usage of a period (the current month by default): the cost so far (`usageSummary`, the preview of its invoice)
 * and one daily chart per metric (`usageDaily`). Admins may look at any user's.
 */
export function Usage({ session, period, user }: { session: Session; period?: string; user?: string }) {
  const periodId = useId();
  const userId = useId();
  const shownPeriod = period && PERIOD.test(period) ? period : currentPeriod();
  const admin = session.role === 'admin';
  const subject = admin && user ? user : undefined;
  const [userDraft, setUserDraft] = useState(subject ?? '');
  const usage = useQuery(UsageViewDocument, { period: shownPeriod, userId: subject ?? null }, session.token);

  function chooseUser(event: FormEvent) {
    event.preventDefault();
    navigate({ page: 'usage', period: shownPeriod, user: userDraft.trim() || undefined }, { replace: true });
  }

  const summary = usage.data?.usageSummary;
  const daily = usage.data?.usageDaily;
  return (
    <section aria-labelledby="usage-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="usage-title">
          Usage{subject ? ` of ${subject}` : ''}
        </h1>
      </div>
      <form className="filters" aria-label="Choose the period" onSubmit={chooseUser}>
        <div className="field">
          <label htmlFor={periodId}>Period</label>
          <input
            id={periodId}
            type="month"
            value={shownPeriod}
            onChange={(event) =>
              PERIOD.test(event.target.value) &&
              navigate({ page: 'usage', period: event.target.value, user: subject }, { replace: true })
            }
          />
        </div>
        {admin && (
          <>
            <div className="field">
              <label htmlFor={userId}>User id</label>
              <input
                id={userId}
                value={userDraft}
                placeholder={session.sub}
                onChange={(event) => setUserDraft(event.target.value)}
              />
            </div>
            <div className="field field-button">
              <button type="submit" className="secondary">
                Show
              </button>
            </div>
          </>
        )}
      </form>
      {usage.error && (
        <p className="error" role="alert">
          Could not load the usage: {usage.error}
        </p>
      )}
      {usage.loading && !summary && (
        <p className="loading" role="status">
          Loading the usage…
        </p>
      )}
      {summary && daily && (
        <>
          <h2>Cost so far</h2>
          <p className="totals" data-testid="usage-subtotal">
            {summary.period}: <strong>{summary.subtotal.formatted}</strong>{' '}
            <span className="hint">(as of {formatDateTime(summary.generatedAt)})</span>
          </p>
          {summary.latePeriods.length > 0 && (
            <p className="notice">Includes late usage of {summary.latePeriods.join(', ')}, billed with this period.</p>
          )}
          {summary.lines.length === 0 ? (
            <p className="empty">No usage in {summary.period}.</p>
          ) : (
            <div className="table-wrap">
              <table className="lines">
                <caption className="visually-hidden">Cost so far in {summary.period}, per metric</caption>
                <thead>
                  <tr>
                    <th scope="col">Metric</th>
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
                  {summary.lines.map((line, index) => (
                    <SummaryLine key={index} line={line} currency={summary.currency} />
                  ))}
                </tbody>
                <tfoot>
                  <tr>
                    <th scope="row" colSpan={3}>
                      Subtotal
                    </th>
                    <td className="num">{summary.subtotal.formatted}</td>
                  </tr>
                </tfoot>
              </table>
            </div>
          )}
          <h2>Per day</h2>
          {daily.metrics.length === 0 ? (
            <p className="empty">No usage to chart in {summary.period}.</p>
          ) : (
            <div className="charts">
              {daily.metrics.map((metric) => (
                <DailyChart
                  key={metric.metric.code}
                  periodStart={daily.periodStart}
                  periodEnd={daily.periodEnd}
                  series={{ ...metric.metric, aggregation: metric.aggregation, days: metric.days }}
                />
              ))}
            </div>
          )}
        </>
      )}
    </section>
  );
}

function SummaryLine({ line, currency }: { line: Line; currency: string }) {
  const free = subtractDecimals(line.quantity, line.billableQuantity);
  return (
    <tr>
      <th scope="row" data-label="Metric">
        {line.description}
        <span className="metric">{line.metric.code}</span>
      </th>
      <td data-label="Quantity" className="num">
        {formatDecimal(line.quantity)}
        {free && free !== '0' && !free.startsWith('-') && (
          <span className="allowance">
            {formatDecimal(line.billableQuantity)} billed, {formatDecimal(free)} free
          </span>
        )}
      </td>
      <td data-label="Unit price" className="num">
        {line.unpriced ? 'No price' : line.unitAmount ? formatUnitPrice(line.unitAmount, currency) : '—'}
      </td>
      <td data-label="Amount" className="num">
        {line.amount.formatted}
      </td>
    </tr>
  );
}

import { useEffect, useId, useState } from 'react';
import type { FormEvent } from 'react';
import { request, subscribe } from '../../api';
import { BillingRunProgressedDocument, BillingRunsDocument, RunBillingDocument } from '../../generated/graphql';
import type { BillingRunFieldsFragment } from '../../generated/graphql';
import { formatDateTime } from '../../format';
import type { Session } from '../../session';
import { currentPeriod, messageOf, previousPeriod, useQuery } from '../../use-query';

type Run = BillingRunFieldsFragment;

const TRIGGERS: Record<string, string> = { scheduler: 'the scheduler', cli: 'the CLI', api: 'the API' };

/** Whether `incoming` is as new as `current` (a later pass, or a later heartbeat of the same pass). */
function isNewer(incoming: Run, current: Run | undefined): boolean {
  if (!current) {
    return true;
  }
  if (incoming.startedAt !== current.startedAt) {
    return incoming.startedAt > current.startedAt;
  }
  return incoming.heartbeatAt >= current.heartbeatAt;
}

/**
 * Admin: billing runs, newest period first, and a form to start one. A running run (and one just started) is
 * followed live through `billingRunProgressed` over the tab's WebSocket: its counts move without a reload.
 */
export function BillingRuns({ session }: { session: Session }) {
  const periodId = useId();
  const list = useQuery(BillingRunsDocument, { first: 12 }, session.token);
  const [runs, setRuns] = useState<Map<string, Run>>(new Map());
  const [watched, setWatched] = useState<string[]>([]);
  const [period, setPeriod] = useState(() => previousPeriod(currentPeriod()));
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string>();
  const [liveError, setLiveError] = useState<string>();

  const upsert = (run: Run) =>
    setRuns((current) => {
      if (!isNewer(run, current.get(run.period))) {
        return current;
      }
      const next = new Map(current);
      next.set(run.period, run);
      return next;
    });

  // The list as loaded; runs still running are followed live from here on.
  useEffect(() => {
    const loaded = list.data?.billingRuns.edges.map((edge) => edge.node) ?? [];
    loaded.forEach(upsert);
    const running = loaded.filter((run) => run.status !== 'completed').map((run) => run.period);
    setWatched((current) => [...new Set([...current, ...running])]);
  }, [list.data]);

  async function start(event: FormEvent) {
    event.preventDefault();
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) {
      setStartError('Choose a month.');
      return;
    }
    setStarting(true);
    setStartError(undefined);
    // Follow the period first: the subscription's first event is the run as it is then, whenever that is.
    setWatched((current) => (current.includes(period) ? current : [...current, period]));
    try {
      const data = await request(RunBillingDocument, { period }, session.token);
      if (data.runBilling.__typename === 'BillingRun') {
        upsert(data.runBilling);
      } else {
        setStartError(data.runBilling.message);
      }
    } catch (failure) {
      setStartError(messageOf(failure));
    } finally {
      setStarting(false);
    }
  }

  const shown = [...runs.values()].sort((a, b) => (a.period < b.period ? 1 : -1));
  return (
    <section aria-labelledby="runs-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="runs-title">
          Billing runs
        </h1>
      </div>
      {watched.map((key) => (
        <FollowRun
          key={key}
          period={key}
          token={session.token}
          onRun={upsert}
          onError={setLiveError}
          onReconnect={() => void list.reload()}
        />
      ))}
      <form className="filters panel" aria-label="Start a billing run" onSubmit={start}>
        <div className="field">
          <label htmlFor={periodId}>Period to bill</label>
          <input id={periodId} type="month" value={period} onChange={(event) => setPeriod(event.target.value)} />
        </div>
        <div className="field field-button">
          <button type="submit" disabled={starting}>
            {starting ? 'Starting…' : 'Start billing run'}
          </button>
        </div>
        <p className="hint field-wide">
          Invoices every customer with usage in the period and no invoice for it yet. Safe to repeat: nobody is invoiced
          twice, and a finished run is re-run to retry its failures.
        </p>
      </form>
      {startError && (
        <p className="error" role="alert">
          Could not start the run: {startError}
        </p>
      )}
      {liveError && (
        <p className="notice" role="status">
          Live progress unavailable: {liveError}
        </p>
      )}
      {list.error && (
        <p className="error" role="alert">
          Could not load billing runs: {list.error}
        </p>
      )}
      {list.loading && !list.data && (
        <p className="loading" role="status">
          Loading billing runs…
        </p>
      )}
      {list.data && shown.length === 0 && <p className="empty">No billing run yet.</p>}
      <ul className="runs">
        {shown.map((run) => (
          <RunCard key={run.period} run={run} />
        ))}
      </ul>
    </section>
  );
}

/** Subscribes to one period's progress while mounted. */
function FollowRun({
  period,
  token,
  onRun,
  onError,
  onReconnect,
}: {
  period: string;
  token: string;
  onRun: (run: Run) => void;
  onError: (message: string) => void;
  onReconnect: () => void;
}) {
  useEffect(
    () =>
      subscribe(BillingRunProgressedDocument, { period }, token, {
        next: (data) => onRun(data.billingRunProgressed),
        error: (error) => onError(error.message),
        onReconnect,
      }),
    // Callbacks are stable enough: they only set state.
    [period, token],
  );
  return null;
}

function RunCard({ run }: { run: Run }) {
  const handled = run.done + run.failed + run.skipped;
  const running = run.status !== 'completed';
  const titleId = useId();
  return (
    <li className="panel run" data-period={run.period} data-status={run.status}>
      <div className="title-row">
        <h2 id={titleId}>{run.period}</h2>
        <span
          className={`badge ${running ? 'badge-processing' : run.failed > 0 ? 'badge-payment_failed' : 'badge-paid'}`}
        >
          {running ? 'Running' : run.failed > 0 ? 'Completed with failures' : 'Completed'}
        </span>
      </div>
      <progress max={Math.max(run.total, 1)} value={run.total === 0 ? 1 : handled} aria-labelledby={titleId} />
      <p className="run-counts" role="status" data-testid={`run-${run.period}-counts`}>
        {handled} of {run.total} {run.total === 1 ? 'customer' : 'customers'} handled: {run.done} invoiced, {run.failed}{' '}
        failed, {run.skipped} with nothing to bill
        {running ? `, ${run.pending + run.processing} to go` : ''}.
      </p>
      <p className="hint">
        {running ? 'Started' : 'Ran'} {formatDateTime(run.startedAt)} by {TRIGGERS[run.trigger] ?? run.trigger}
        {run.triggeredBy ? ` (${run.triggeredBy})` : ''}
        {run.finishedAt ? `; finished ${formatDateTime(run.finishedAt)}` : ''}.
      </p>
      {run.failures.length > 0 && (
        <details>
          <summary>
            {run.failures.length} {run.failures.length === 1 ? 'customer' : 'customers'} not invoiced yet
          </summary>
          <ul>
            {run.failures.map((failure) => (
              <li key={failure.userId}>
                <strong>{failure.userId}</strong> ({failure.status === 'pending' ? 'retry scheduled' : 'failed'} after{' '}
                {failure.attempts} {failure.attempts === 1 ? 'attempt' : 'attempts'}): {failure.error}
              </li>
            ))}
          </ul>
        </details>
      )}
    </li>
  );
}

import { useEffect, useId, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { request } from '../../api';
import { ReplayWebhookEventDocument, WebhookEventDocument, WebhookEventsDocument } from '../../generated/graphql';
import type { WebhookEventFieldsFragment, WebhookEventStatus } from '../../generated/graphql';
import { formatDateTime } from '../../format';
import { navigate } from '../../router';
import type { Session } from '../../session';
import { messageOf } from '../../use-query';
import { LoadMore } from '../../components/LoadMore';
import { pageOf, usePagedList } from '../../use-pages';

type Event = WebhookEventFieldsFragment;

const STATUSES: Record<WebhookEventStatus, string> = {
  PENDING: 'Pending',
  PROCESSING: 'Processing',
  PROCESSED: 'Processed',
  FAILED: 'Failed',
  IGNORED: 'Ignored',
};
const BADGES: Record<WebhookEventStatus, string> = {
  PENDING: 'badge-open',
  PROCESSING: 'badge-processing',
  PROCESSED: 'badge-paid',
  FAILED: 'badge-payment_failed',
  IGNORED: 'badge-void',
};
const PAGE = 25;
/** While a replayed event is queued, the page asks for it this often (the worker applies it within seconds). */
const REPLAY_CHECK_MS = 1000;
const REPLAY_CHECKS = 60;

const isStatus = (value: string | undefined): value is WebhookEventStatus => !!value && value in STATUSES;

/** Admin: the Stripe events received, filtered by type and status, each replayable; a replay is followed to its end. */
export function WebhookEvents({ session, type, status }: { session: Session; type?: string; status?: string }) {
  const typeId = useId();
  const statusId = useId();
  const [typeDraft, setTypeDraft] = useState(type ?? '');
  const validStatus = isStatus(status) ? status : undefined;
  const list = usePagedList(
    async (after) =>
      pageOf(
        (
          await request(
            WebhookEventsDocument,
            { type: type ?? null, status: validStatus ?? null, first: PAGE, after },
            session.token,
          )
        ).webhookEvents,
      ),
    JSON.stringify([type, validStatus, session.token]),
  );
  const rows = list.rows;
  const [replays, setReplays] = useState<Record<string, { state: 'replaying' | 'done' | 'error'; text: string }>>({});
  const [announcement, setAnnouncement] = useState('');
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const replace = (event: Event) => list.update((current) => current.map((row) => (row.id === event.id ? event : row)));

  /** Queues the event again, then asks for it until the worker has applied it (or given up on it). */
  async function replay(event: Event) {
    const report = (state: 'replaying' | 'done' | 'error', text: string) => {
      if (mounted.current) {
        setReplays((current) => ({ ...current, [event.id]: { state, text } }));
        setAnnouncement(`${event.type} ${event.id}: ${text}`);
      }
    };
    report('replaying', 'Replaying…');
    try {
      let current = (await request(ReplayWebhookEventDocument, { id: event.id }, session.token)).replayWebhookEvent;
      replace(current);
      for (
        let check = 0;
        (current.status === 'PENDING' || current.status === 'PROCESSING') && check < REPLAY_CHECKS;
        check += 1
      ) {
        await new Promise((resolve) => setTimeout(resolve, REPLAY_CHECK_MS));
        if (!mounted.current) {
          return;
        }
        current = (await request(WebhookEventDocument, { id: event.id }, session.token)).webhookEvent;
        replace(current);
      }
      if (current.status === 'PENDING' || current.status === 'PROCESSING') {
        report('done', 'Replay queued; the worker has not applied it yet.');
      } else if (current.status === 'FAILED') {
        report('error', `Replay failed: ${current.lastError ?? 'no reason recorded'}`);
      } else {
        report('done', `Replayed: ${STATUSES[current.status].toLowerCase()}.`);
      }
    } catch (failure) {
      report('error', `Replay failed: ${messageOf(failure)}`);
    }
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    navigate({ page: 'webhooks', type: typeDraft.trim() || undefined, status: validStatus }, { replace: true });
  }

  return (
    <section aria-labelledby="webhooks-title">
      <div className="title-row">
        <h1 tabIndex={-1} id="webhooks-title">
          Webhook events
        </h1>
      </div>
      <form className="filters" role="search" aria-label="Filter webhook events" onSubmit={submit}>
        <div className="field">
          <label htmlFor={typeId}>Type</label>
          <input
            id={typeId}
            value={typeDraft}
            placeholder="invoice.paid or invoice.*"
            onChange={(event) => setTypeDraft(event.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={statusId}>Status</label>
          <select
            id={statusId}
            value={validStatus ?? ''}
            onChange={(event) =>
              navigate(
                { page: 'webhooks', type: typeDraft.trim() || undefined, status: event.target.value || undefined },
                { replace: true },
              )
            }
          >
            <option value="">Any status</option>
            {Object.entries(STATUSES).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div className="field field-button">
          <button type="submit" className="secondary">
            Filter
          </button>
        </div>
      </form>
      <p className="visually-hidden" role="status" aria-live="polite">
        {announcement}
      </p>
      {list.error && (
        <p className="error" role="alert">
          Could not load webhook events: {list.error}
        </p>
      )}
      {list.loading && !rows && (
        <p className="loading" role="status">
          Loading webhook events…
        </p>
      )}
      {rows && (
        <>
          <p className="totals" data-testid="event-count">
            {list.total === 1 ? '1 event' : `${list.total} events`}, newest first
          </p>
          {rows.length === 0 ? (
            <p className="empty">No events match these filters.</p>
          ) : (
            <div className="table-wrap">
              <table className="cards">
                <caption className="visually-hidden">Webhook events, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Type</th>
                    <th scope="col">Status</th>
                    <th scope="col">Received</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Object</th>
                    <th scope="col">Replay</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((event) => {
                    const replayState = replays[event.id];
                    return (
                      <tr key={event.id} data-event-id={event.id}>
                        <th scope="row" data-label="Type">
                          {event.type}
                          <span className="metric">{event.id}</span>
                        </th>
                        <td data-label="Status">
                          <span className={`badge ${BADGES[event.status]}`} data-status={event.status}>
                            {STATUSES[event.status]}
                          </span>
                          {event.lastError && <span className="allowance">Last error: {event.lastError}</span>}
                        </td>
                        <td data-label="Received">{formatDateTime(event.receivedAt)}</td>
                        <td data-label="Attempts">{event.attempts}</td>
                        <td data-label="Object" className="mono">
                          {event.objectId ?? '—'}
                        </td>
                        <td data-label="Replay">
                          <button
                            type="button"
                            className="secondary"
                            disabled={replayState?.state === 'replaying'}
                            onClick={() => void replay(event)}
                          >
                            Replay
                            <span className="visually-hidden">
                              {' '}
                              {event.type} {event.id}
                            </span>
                          </button>
                          {replayState && (
                            <span className={`replay replay-${replayState.state}`} data-testid="replay-result">
                              {replayState.text}
                            </span>
                          )}
                        </td>
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

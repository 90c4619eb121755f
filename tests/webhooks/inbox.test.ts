import { processMetrics } from '../../src/lib/metrics';
import { StripeEventInbox } from '../../src/services/stripe-events/webhook-event-store';
import { toEventRecord } from '../../src/stripe';
import type { StripeEventRecord } from '../../src/stripe';
import type { TestDatabase } from '../helpers/database';
import { createTestDatabase } from '../helpers/database';
import { findEvent, stripeEvent, stripeInvoice } from './fixtures';

// The intake's group commit: events arriving while the statements run are stored together by the next one.
describe('StripeEventInbox: events arriving together share one insert', () => {
  let test: TestDatabase;
  const inserts: string[] = [];
  beforeAll(async () => {
    test = await createTestDatabase({
      queryLog: (line) => {
        if (line.includes('insert into webhook_events')) {
          inserts.push(line);
        }
      },
    });
  });
  afterAll(() => test.drop());
  beforeEach(() => {
    inserts.length = 0;
  });

  const anEvent = (): StripeEventRecord => toEventRecord(stripeEvent('invoice.updated', stripeInvoice()));

  async function batchSizes(): Promise<{ count: number; sum: number }> {
    const metric = await processMetrics.getSingleMetric('agenthub_webhook_intake_batch_events')!.get();
    const value = (name: string): number =>
      metric.values.find((v) => (v as { metricName?: string }).metricName === name)?.value ?? 0;
    return {
      count: value('agenthub_webhook_intake_batch_events_count'),
      sum: value('agenthub_webhook_intake_batch_events_sum'),
    };
  }

  it('stores a burst in two statements (the first event alone, the rest together), each event once', async () => {
    const inbox = new StripeEventInbox(test.db.orm.em, 1);
    const events = Array.from({ length: 20 }, anEvent);
    const before = await batchSizes();

    const results = await Promise.all(events.map((event) => inbox.store(event)));

    expect(results).toEqual(events.map(() => ({ duplicate: false })));
    expect(inserts).toHaveLength(2);
    const after = await batchSizes();
    expect([after.count - before.count, after.sum - before.sum]).toEqual([2, 20]);
    for (const event of events) {
      const row = await findEvent(test.db, event.id);
      expect(row?.type).toBe('invoice.updated');
      expect(row?.payload).toEqual(JSON.parse(event.json));
      expect(row?.stripeCreatedAt).toEqual(event.created);
    }
  });

  it('tells repeated deliveries apart: within one statement the first copy is stored, later copies and later deliveries are duplicates', async () => {
    const inbox = new StripeEventInbox(test.db.orm.em, 1);
    const [a, b] = [anEvent(), anEvent()];
    const results = await Promise.all([a, a, b, a, b].map((event) => inbox.store(event)));
    expect(results.map((r) => r.duplicate)).toEqual([false, true, false, true, true]);
    expect(await inbox.store(b)).toEqual({ duplicate: true });
  });

  it('caps a statement at 4 MB of events: large events waiting together go in several', async () => {
    const inbox = new StripeEventInbox(test.db.orm.em, 1);
    // Five events of 1.5 MB: the first alone, then two statements of two (3 MB each; three would be 4.5 MB).
    const large = Array.from({ length: 5 }, () => {
      const event = anEvent();
      return { ...event, json: JSON.stringify({ id: event.id, object: 'event', pad: 'x'.repeat(1_500_000) }) };
    });

    const results = await Promise.all(large.map((event) => inbox.store(event)));

    expect(results).toEqual(large.map(() => ({ duplicate: false })));
    expect(inserts).toHaveLength(3);
    const row = await findEvent(test.db, large[4].id);
    expect((row?.payload as { pad: string }).pad).toHaveLength(1_500_000);
  });

  it('keeps the arrival order of events of one Stripe second, the order the worker applies them in', async () => {
    const inbox = new StripeEventInbox(test.db.orm.em, 1);
    const created = new Date(Math.floor(Date.now() / 1000) * 1000);
    const events = Array.from({ length: 8 }, () => ({ ...anEvent(), created }));

    await Promise.all(events.map((event) => inbox.store(event)));

    // The worker's claim order (claimDueEvents): Stripe's second, then receipt.
    const rows = await test.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>(
        'select id from webhook_events where id in (?) order by stripe_created_at, received_at, id',
        [events.map((event) => event.id)],
      );
    expect(rows.map((row) => row.id)).toEqual(events.map((event) => event.id));
  });

  it('a lone event is stored at once, with no other waiting', async () => {
    const inbox = new StripeEventInbox(test.db.orm.em, 5);
    const event = anEvent();
    expect(await inbox.store(event)).toEqual({ duplicate: false });
    expect(inserts).toHaveLength(1);
    expect(await findEvent(test.db, event.id)).not.toBeNull();
  });

  it('an event the database refuses fails alone: the others of its statement are stored', async () => {
    const inbox = new StripeEventInbox(test.db.orm.em, 1);
    const good = Array.from({ length: 4 }, anEvent);
    // A value jsonb refuses (the intake checks for it first; this is the backstop for anything it does not know).
    const bad = { ...anEvent(), json: '{"object":"event","note":"\\u0000"}' };

    const outcomes = await Promise.all(
      [good[0], good[1], bad, good[2], good[3]].map((event) =>
        inbox.store(event).then(
          (result) => ({ stored: !result.duplicate }),
          (error: { code?: string }) => ({ refused: error.code }),
        ),
      ),
    );

    expect(outcomes).toEqual([
      { stored: true },
      { stored: true },
      { refused: '22P05' },
      { stored: true },
      { stored: true },
    ]);
    for (const event of good) {
      expect(await findEvent(test.db, event.id)).not.toBeNull();
    }
    expect(await findEvent(test.db, bad.id)).toBeNull();
  });
});

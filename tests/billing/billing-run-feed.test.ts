import { Client } from 'pg';
import { createLogger } from '../../src/config/logger';
import { BillingRunFeed } from '../../src/services/billing-runs/billing-run-feed';
import { parsePeriod } from '../../src/services/billing-runs/billing-period';
import { claimItems, claimRun, releaseItems } from '../../src/services/billing-runs/billing-run-store';
import { runBilling } from '../../src/services/billing-runs/billing-run.service';
import { ManualClock } from '../helpers/clock';
import { testServerUrl } from '../helpers/database';
import type { BillingHarness } from './helpers';
import { billingHarness } from './helpers';

const onPostgres = testServerUrl() ? it : it.skip;

/**
 * The feed behind `billingRunProgressed`, on its own: what a watcher is handed, and that a dropped LISTEN connection
 * loses nothing (the subscription over the wire: tests/dashboard-api.test.ts).
 */
describe('BillingRunFeed', () => {
  let h: BillingHarness;
  const log = createLogger({ logLevel: 'silent' });
  beforeAll(async () => {
    h = await billingHarness();
  });
  afterAll(() => h.close());

  it('hands a watcher the run once it starts, then only snapshots that changed; closes it on stop', async () => {
    const feed = new BillingRunFeed(h.t.database.db, log);
    await h.usage('2024-05', ['feed-a', 'feed-b']);
    const watch = await feed.watch('2024-05');
    const second = await feed.watch('2024-05');
    expect(feed.watcherCount).toBe(2);
    await runBilling(h.deps('2024-05'), '2024-05', { concurrency: 1, batchSize: 1 });
    // Each watcher ends on the completed run; a watcher holds only the newest snapshot not yet taken.
    let last = (await watch.next()).value;
    while (last?.status !== 'completed') {
      last = (await watch.next()).value;
    }
    expect(last).toMatchObject({ period: '2024-05', status: 'completed', total: 2, done: 2, failed: 0 });
    const secondLast = (await second.next()).value;
    expect(secondLast).toBe(last);

    // One who comes later gets the last snapshot at once.
    const late = await feed.watch('2024-05');
    expect((await late.next()).value).toBe(last);

    await second.return();
    expect(feed.watcherCount).toBe(2);
    await feed.stop();
    expect(await watch.next()).toEqual({ done: true, value: undefined });
    expect(feed.watcherCount).toBe(0);
    await expect(feed.watch('2024-05')).rejects.toThrow('stopped');
  });

  it('announces a claim and a release: a watcher that read the start sees the customer taken, then given back', async () => {
    const feed = new BillingRunFeed(h.t.database.db, log);
    try {
      await h.usage('2024-07', ['feed-e']);
      const em = h.t.database.db.orm.em;
      const watch = await feed.watch('2024-07');
      const run = await em
        .fork()
        .transactional((tem) =>
          claimRun(tem, parsePeriod('2024-07'), { trigger: 'api', rerun: true, now: new Date() }),
        );
      expect((await watch.next()).value).toMatchObject({ status: 'running', pending: 1, processing: 0 });
      // Only the claim changes now: no totals refreshed, no other statement. Its own NOTIFY must bring the snapshot.
      const [item] = await claimItems(em.fork(), run.id, 1, 60_000, new Date());
      expect((await watch.next()).value).toMatchObject({ status: 'running', pending: 0, processing: 1 });
      await releaseItems(em.fork(), run.id, [item.id]);
      expect((await watch.next()).value).toMatchObject({ status: 'running', pending: 1, processing: 0 });
    } finally {
      await feed.stop();
    }
  });

  onPostgres('reads every watched period again once its LISTEN connection is back', async () => {
    const clock = new ManualClock();
    const feed = new BillingRunFeed(h.t.database.db, log, { clock });
    try {
      await h.usage('2024-06', ['feed-c', 'feed-d']);
      const watch = await feed.watch('2024-06');
      const killer = new Client({ connectionString: h.t.database.url });
      await killer.connect();
      try {
        const { rows } = await killer.query(
          `select pg_terminate_backend(pid) as killed from pg_stat_activity
           where datname = current_database() and query ilike 'LISTEN billing_run_progress%'`,
        );
        expect(rows).toEqual([{ killed: true }]);
      } finally {
        await killer.end();
      }
      // The feed waits out its backoff on the clock; meanwhile the whole run happens, and its NOTIFYs reach nobody.
      await clock.whenSleeping(1);
      expect(await runBilling(h.deps('2024-06'), '2024-06')).toMatchObject({ kind: 'completed' });
      clock.advance(60_000);
      expect((await watch.next()).value).toMatchObject({ period: '2024-06', status: 'completed', total: 2, done: 2 });
    } finally {
      await feed.stop();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/config/logger';
import { Role } from '../../src/entities/enums';
import type { Database } from '../../src/entities/orm';
import { openDatabase } from '../../src/entities/orm';
import { SecretBox } from '../../src/lib/secret-box';
import { recordOutgoingEvent } from '../../src/services/outgoing-webhooks/outbox';
import { createWebhookEndpoint } from '../../src/services/outgoing-webhooks/webhook-endpoints.service';
import { OutgoingWebhookWorker } from '../../src/webhooks/outgoing-webhook-worker';
import { ManualClock } from '../helpers/clock';
import type { TestDatabase } from '../helpers/database';
import { createTestDatabase, testServerUrl } from '../helpers/database';
import { waitForEvent } from '../helpers/wait';
import { Receiver } from './receiver';

const ADMIN = { userId: 'admin-1', role: Role.ADMIN };

/**
 * An endpoint's rate is one budget shared by every instance: two workers on one PostgreSQL database, each with its
 * own connection pool and LISTEN connection, send no more than `ratePerSecond` messages within a second of the
 * (frozen) clock between them; moving the clock one second frees the next second's budget.
 */
const describeOnPostgres = testServerUrl() ? describe : describe.skip;

describeOnPostgres('the per-endpoint rate across instances', () => {
  let test: TestDatabase;
  let second: Database;
  const clock = new ManualClock();
  const receiver = new Receiver();
  const workers: OutgoingWebhookWorker[] = [];

  beforeAll(async () => {
    test = await createTestDatabase();
    second = await openDatabase({ databaseUrl: test.url, poolMax: 5 });
    await receiver.start();
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await receiver.stop();
    await second.close();
    await test.drop();
  });

  it('sends at most ratePerSecond per second between two workers', async () => {
    const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', JWT_SECRET: 'x'.repeat(32) });
    const log = createLogger(config);
    // One key for both instances, as every instance of a deployment has the same SECRETS_ENCRYPTION_KEYS.
    const secretBox = new SecretBox(() => [{ kid: 'test', key: randomBytes(32) }]);
    const { endpoint, secret } = await createWebhookEndpoint(
      { em: test.db.orm.em.fork(), caller: ADMIN, allowPrivateHosts: true, secretBox, now: new Date(clock.now()) },
      { url: receiver.url, eventTypes: ['billing_run.completed'], ratePerSecond: 3 },
    );
    receiver.secrets = [secret];
    for (const db of [test.db, second]) {
      workers.push(
        new OutgoingWebhookWorker(
          db,
          secretBox,
          { ...config.outgoingWebhooks, batchSize: 2, errorDelayMs: 1_000 },
          log,
          clock,
        ),
      );
    }
    // Small batches: both workers take part at once (a per-instance rate would let each send its own three).
    await Promise.all(workers.map((w) => w.start()));
    // Ten events without an ordering key: nothing but the rate holds them back.
    await test.db.orm.em.fork().transactional(async (tem) => {
      for (let i = 0; i < 10; i += 1) {
        await recordOutgoingEvent(tem, {
          type: 'billing_run.completed',
          data: { n: i },
          at: new Date(clock.now()),
        });
      }
    });
    const quiet = async (count: number, what: string): Promise<void> => {
      await waitForEvent(what, () => receiver.accepted.length >= count, receiver.changes.subscribe);
      // Both workers asleep again: nothing more is sent until the clock moves.
      await clock.whenSleeping(2);
    };
    await quiet(3, 'the first second');
    expect(receiver.accepted).toHaveLength(3);
    clock.advance(1_000);
    await quiet(6, 'the second second');
    expect(receiver.accepted).toHaveLength(6);
    clock.advance(1_000);
    await quiet(9, 'the third second');
    expect(receiver.accepted).toHaveLength(9);
    clock.advance(1_000);
    await quiet(10, 'the last one');
    expect(new Set(receiver.accepted.map((m) => m.id)).size).toBe(10);
    expect(endpoint.ratePerSecond).toBe(3);
  });
});

import { randomBytes } from 'node:crypto';
import { webhookEndpointCommand } from '../../src/cli/webhook-endpoint-commands';
import type { Env } from '../../src/cli/billing-commands';
import { loadConfig } from '../../src/config/config';
import { createLogger } from '../../src/config/logger';
import { OutgoingDeliveryStatus, Role } from '../../src/entities/enums';
import type { SecretBox } from '../../src/lib/secret-box';
import type { StripeGateway } from '../../src/stripe';
import { reencryptEndpointSecrets } from '../../src/services/outgoing-webhooks/endpoint-secrets';
import { recordOutgoingEvent } from '../../src/services/outgoing-webhooks/outbox';
import {
  createWebhookEndpoint,
  listWebhookDeliveries,
  rotateWebhookEndpointSecret,
  setWebhookEndpointEnabled,
} from '../../src/services/outgoing-webhooks/webhook-endpoints.service';
import type { EndpointDeps } from '../../src/services/outgoing-webhooks/webhook-endpoints.service';
import { secretBoxFromConfig } from '../../src/services/shared/secrets-at-rest';
import type { RecordedAttempt } from '../../src/webhooks/outgoing-webhook-worker';
import { OutgoingWebhookWorker } from '../../src/webhooks/outgoing-webhook-worker';
import { ManualClock } from '../helpers/clock';
import type { TestDatabase } from '../helpers/database';
import { createTestDatabase } from '../helpers/database';
import { waitForEvent } from '../helpers/wait';
import { Receiver } from './receiver';

const ADMIN = { userId: 'admin-1', role: Role.ADMIN };

/** A key of SECRETS_ENCRYPTION_KEYS, random per run: no key material lives in the repository. */
const newKey = (kid: string) => ({ kid, key: randomBytes(32) });
const k1 = newKey('k1');
const k2 = newKey('k2');
type Key = typeof k1;
const keysVariable = (...keys: Key[]): string => keys.map((k) => `${k.kid}:${k.key.toString('base64')}`).join(',');
/** The configuration of an instance with these keys, as `loadConfig` reads SECRETS_ENCRYPTION_KEYS. */
const configWith = (...keys: Key[]) =>
  loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', SECRETS_ENCRYPTION_KEYS: keysVariable(...keys) });
const boxWith = (...keys: Key[]): SecretBox => secretBoxFromConfig(configWith(...keys));

/**
 * Signing secrets at rest: sealed in the column (read back with raw SQL), opened only to sign, so the receiver still
 * verifies with the `standardwebhooks` library; key rotation; rows written in plain text by an earlier version; a
 * secret whose key is missing.
 */
describe('outgoing webhook signing secrets at rest', () => {
  let test: TestDatabase;
  const clock = new ManualClock();
  const receiver = new Receiver();
  let worker: OutgoingWebhookWorker | undefined;
  let endpointId: string | undefined;

  const deps = (secretBox: SecretBox): EndpointDeps => ({
    em: test.db.orm.em.fork(),
    caller: ADMIN,
    allowPrivateHosts: true,
    secretBox,
    now: new Date(clock.now()),
  });
  const stored = async (id: string): Promise<string> => {
    const [row] = await test.db.orm.em
      .fork()
      .execute<Array<{ secrets: string }>>('select secrets::text as secrets from webhook_endpoints where id = ?', [id]);
    return row.secrets;
  };
  const storedSecrets = async (id: string): Promise<string[]> =>
    (JSON.parse(await stored(id)) as Array<{ secret: string }>).map((s) => s.secret);
  const expectNoPlaintext = async (id: string, ...secrets: string[]): Promise<void> => {
    const text = await stored(id);
    expect(text).not.toContain('whsec_');
    for (const secret of secrets) {
      expect(text).not.toContain(secret.slice('whsec_'.length));
    }
  };
  const register = async (box: SecretBox) => {
    const created = await createWebhookEndpoint(deps(box), {
      url: receiver.url,
      eventTypes: ['billing_run.completed'],
      ratePerSecond: 100,
    });
    endpointId = created.endpoint.id;
    return created;
  };
  /** This instance's worker with `box`; the one before it stopped (a restart with other keys). */
  const restartWorker = async (box: SecretBox): Promise<OutgoingWebhookWorker> => {
    await worker?.stop();
    const config = configWith(k1);
    worker = new OutgoingWebhookWorker(
      test.db,
      box,
      { ...config.outgoingWebhooks, errorDelayMs: 1_000 },
      createLogger(config),
      clock,
    );
    await worker.start();
    return worker;
  };
  /** Resolves with the next attempt `w` records (committed). */
  const nextRecorded = (w: OutgoingWebhookWorker): Promise<RecordedAttempt> =>
    new Promise((resolve) => {
      const stop = w.onRecorded((attempt) => {
        stop();
        resolve(attempt);
      });
    });
  let sent = 0;
  /** Queues one event (woken by its NOTIFY) and waits until the receiver accepted it. */
  const deliverOne = async () => {
    const before = receiver.accepted.length;
    await emit();
    await waitForEvent('the message accepted', () => receiver.accepted.length > before, receiver.changes.subscribe);
    return receiver.accepted[before];
  };
  const emit = () =>
    test.db.orm.em.fork().transactional((tem) =>
      recordOutgoingEvent(tem, {
        type: 'billing_run.completed',
        data: { n: (sent += 1) },
        at: new Date(clock.now()),
      }),
    );

  beforeAll(async () => {
    test = await createTestDatabase();
    await receiver.start();
  });
  afterEach(async () => {
    // Each test's endpoint stops receiving: the next test's events reach only its own.
    if (endpointId) {
      await setWebhookEndpointEnabled(deps(boxWith(k1)), endpointId, false);
      endpointId = undefined;
    }
  });
  afterAll(async () => {
    await worker?.stop();
    await receiver.stop();
    await test.drop();
  });

  it('stores no plain secret after create and rotate; messages still verify with both secrets during the overlap', async () => {
    const box = boxWith(k1);
    const { endpoint, secret: first } = await register(box);
    expect(first).toMatch(/^whsec_/);
    await expectNoPlaintext(endpoint.id, first);
    expect(await storedSecrets(endpoint.id)).toEqual([expect.stringMatching(/^v1:k1:[\w-]{16}:[\w-]{22}:[\w-]+$/)]);

    const { secret: second } = await rotateWebhookEndpointSecret(deps(box), endpoint.id, 24);
    await expectNoPlaintext(endpoint.id, first, second);
    const sealed = await storedSecrets(endpoint.id);
    expect(sealed).toHaveLength(2);
    expect(sealed.every((s) => s.startsWith('v1:k1:'))).toBe(true);

    receiver.secrets = [first, second];
    await restartWorker(box);
    expect((await deliverOne()).verifiedBy).toEqual([0, 1]);
  });

  it('keeps opening secrets of the old key after a new key comes first; reencrypt moves them to the new key', async () => {
    const { endpoint, secret } = await register(boxWith(k1));
    receiver.secrets = [secret];
    // Step 1 of a key rotation: k2 first (it seals), k1 still listed (it opens what it sealed).
    await restartWorker(boxWith(k2, k1));
    expect((await deliverOne()).verifiedBy).toEqual([0]);
    expect(await storedSecrets(endpoint.id)).toEqual([expect.stringMatching(/^v1:k1:/)]);

    // Step 2: `npm run billing -- webhook-endpoints reencrypt` with the same keys.
    const config = configWith(k2, k1);
    const env: Env = {
      config,
      db: test.db,
      gateway: {} as StripeGateway,
      log: createLogger(config),
      clock,
      close: () => Promise.resolve(),
    };
    const first = await webhookEndpointCommand('webhook-endpoints reencrypt', env, {});
    expect(first.code).toBe(0);
    // Every endpoint of the database is sealed with k2 now (the previous test's too).
    expect(first.result).toMatchObject({ ok: true, kid: 'k2', endpoints: 2, secrets: 3, unreadable: [] });
    expect(first.text).toMatch(/^Sealed 3 signing secret\(s\) of 2 endpoint\(s\) with key "k2"/);
    expect(await storedSecrets(endpoint.id)).toEqual([expect.stringMatching(/^v1:k2:/)]);
    await expectNoPlaintext(endpoint.id, secret);
    // Idempotent: nothing left to do.
    expect((await webhookEndpointCommand('webhook-endpoints reencrypt', env, {})).result).toMatchObject({
      endpoints: 0,
      secrets: 0,
    });

    // Step 3: k1 removed; everything still signs.
    await restartWorker(boxWith(k2));
    expect((await deliverOne()).verifiedBy).toEqual([0]);
  });

  it('signs with a plain secret an earlier version stored, and seals it at start; a rotation seals the one it keeps', async () => {
    const box = boxWith(k1);
    const { endpoint } = await register(box);
    const legacy = `whsec_${randomBytes(24).toString('base64')}`;
    const plainRow = JSON.stringify([
      { secret: legacy, createdAt: new Date(clock.now()).toISOString(), expiresAt: null },
    ]);
    const writePlainRow = () =>
      test.db.orm.em
        .fork()
        .execute('update webhook_endpoints set secrets = ?::json where id = ?', [plainRow, endpoint.id], 'run');
    await writePlainRow();
    receiver.secrets = [legacy];
    await restartWorker(box);
    expect((await deliverOne()).verifiedBy).toEqual([0]);

    // What the server runs at start, after the migrations: only plain secrets are sealed.
    const report = await reencryptEndpointSecrets(test.db.orm.em.fork(), box, {
      allKeys: false,
      now: new Date(clock.now()),
    });
    expect(report).toMatchObject({ kid: 'k1', endpoints: 1, secrets: 1, unreadable: [] });
    await expectNoPlaintext(endpoint.id, legacy);
    expect(await storedSecrets(endpoint.id)).toEqual([expect.stringMatching(/^v1:k1:/)]);
    expect(
      await reencryptEndpointSecrets(test.db.orm.em.fork(), box, { allKeys: false, now: new Date(clock.now()) }),
    ).toMatchObject({ endpoints: 0, secrets: 0 });
    expect((await deliverOne()).verifiedBy).toEqual([0]);

    // A plain secret kept for a rotation's overlap is sealed by the rotation.
    await writePlainRow();
    const { secret: next } = await rotateWebhookEndpointSecret(deps(box), endpoint.id, 24);
    await expectNoPlaintext(endpoint.id, legacy, next);
    receiver.secrets = [legacy, next];
    expect((await deliverOne()).verifiedBy).toEqual([0, 1]);
  });

  it('sends nothing when a secret does not open, records why, and delivers on the retry once the key is back', async () => {
    const { endpoint, secret } = await register(boxWith(k1));
    receiver.secrets = [secret];
    const requestsBefore = receiver.requests.length;
    // An instance started without k1.
    const recorded = nextRecorded(await restartWorker(boxWith(k2)));
    await emit();
    expect((await recorded).outcome).toBe('retry');
    const [failed] = await listWebhookDeliveries(deps(boxWith(k2)), endpoint.id, {});
    expect(failed).toMatchObject({ status: OutgoingDeliveryStatus.PENDING, attempts: 1 });
    expect(failed.lastError).toBe(
      'not sent: cannot sign, the stored secret is sealed with key "k1", which is not among the configured keys (k2)',
    );
    expect(failed.log).toEqual([expect.objectContaining({ statusCode: null, error: failed.lastError })]);
    expect(receiver.requests.length).toBe(requestsBefore);

    // Restarted with k1 listed again: the retry, due when the backoff ends, is signed and delivered.
    const accepted = receiver.accepted.length;
    const retried = nextRecorded(await restartWorker(boxWith(k2, k1)));
    await clock.whenSleeping(1);
    clock.advance(configWith(k1).outgoingWebhooks.retryBaseMs);
    expect((await retried).outcome).toBe('delivered');
    expect(receiver.accepted.length).toBe(accepted + 1);
    const [delivered] = await listWebhookDeliveries(deps(boxWith(k1)), endpoint.id, {});
    expect(delivered).toMatchObject({ status: OutgoingDeliveryStatus.DELIVERED, attempts: 2 });
  });
});

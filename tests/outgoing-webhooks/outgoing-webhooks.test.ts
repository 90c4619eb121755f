import { Role } from '../../src/entities/enums';
import { createServer } from '../../src/server';
import type { BillingServer } from '../../src/server';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { ManualClock } from '../helpers/clock';
import type { TestServer } from '../helpers/server';
import { TEST_WEBHOOK_SECRET, startTestServer } from '../helpers/server';
import { WAIT_GUARD_MS } from '../helpers/clock';
import { waitForEvent } from '../helpers/wait';
import { Receiver } from './receiver';

const ENDPOINT_FIELDS = 'id url eventTypes status disabledReason ratePerSecond signingSecrets { createdAt expiresAt }';
const DELIVERY_FIELDS =
  'id messageId type orderingKey status attempts lastStatusCode lastError log { attempt statusCode error durationMs }';
const INVOICE_TYPES = [
  'invoice.created',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.payment_action_required',
  'invoice.voided',
  'invoice.uncollectible',
];
const HOUR = 3_600_000;
/** What sleeps on the clock when an instance is idle: its Stripe webhook worker and its outgoing webhook worker. */
const WORKERS = 2;

interface Endpoint {
  id: string;
  status: string;
  disabledReason: string | null;
  signingSecrets: Array<{ createdAt: string; expiresAt: string | null }>;
}
interface Delivery {
  id: string;
  messageId: string;
  type: string;
  orderingKey: string | null;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  log: Array<{ attempt: number; statusCode: number | null; error: string | null }>;
}

/**
 * Outgoing webhooks (Standard Webhooks) end to end: invoices change through the public API, the server's outbox and
 * worker POST signed messages to a real HTTP receiver that verifies them with the `standardwebhooks` library. Time is
 * a ManualClock the test moves: retries, leases and the three-day window pass without sleeping.
 */
describe('outgoing webhooks to the platform', () => {
  const clock = new ManualClock();
  let t: TestServer;
  /** The instance currently serving (a restart replaces it). */
  let server: BillingServer;
  let graphqlUrl: string;

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}, sub = 'admin-1', role = Role.ADMIN) => {
    const token = await t.token(sub, role);
    const res = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as {
      data?: T;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    };
    return body;
  };
  const ok = async <T>(query: string, variables: Record<string, unknown> = {}, sub?: string, role?: Role) => {
    const body = await gql<T>(query, variables, sub, role);
    if (body.errors || !body.data) {
      throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    }
    return body.data;
  };

  const register = async (url: string, eventTypes = INVOICE_TYPES) =>
    (
      await ok<{ createWebhookEndpoint: { endpoint: Endpoint; secret: string } }>(
        `mutation($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { ${ENDPOINT_FIELDS} } } }`,
        { input: { url, eventTypes, ratePerSecond: 100 } },
      )
    ).createWebhookEndpoint;
  const deliveries = async (endpointId: string) =>
    (
      await ok<{ webhookDeliveries: Delivery[] }>(
        `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 500) { ${DELIVERY_FIELDS} } }`,
        { id: endpointId },
      )
    ).webhookDeliveries;
  const endpoint = async (id: string) =>
    (
      await ok<{ webhookEndpoint: Endpoint }>(`query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT_FIELDS} } }`, {
        id,
      })
    ).webhookEndpoint;

  /**
   * Moves the clock `stepMs` at a time until `check` holds, each step only once both workers of the instance (the
   * Stripe one and the outgoing one) sleep again: a round in flight (a POST, its record) always finishes at the time
   * it started, so retries happen at the times the worker chose, never skipped past by the test.
   */
  const drive = async (check: () => boolean | Promise<boolean>, stepMs: number, label: string): Promise<void> => {
    const guard = Date.now() + 3 * WAIT_GUARD_MS;
    for (;;) {
      await clock.whenSleeping(WORKERS);
      // Lets sockets and timers run: a check that reads only memory would otherwise starve the receiver.
      await new Promise((resolve) => setImmediate(resolve));
      if (await check()) {
        return;
      }
      if (Date.now() > guard) {
        throw new Error(`the clock was driven to ${new Date(clock.now()).toISOString()} without ${label}`);
      }
      clock.advance(stepMs);
    }
  };

  let usageSeq = 0;
  /** An OPEN invoice of `userId` for January 2024, made through the API. */
  const openInvoice = async (userId: string): Promise<string> => {
    const usage = await ok<{ recordUsage: { accepted: number } }>(
      `mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted } }`,
      {
        events: [
          {
            userId,
            metric: 'llm_input_tokens',
            quantity: '1000000',
            occurredAt: '2024-01-15T10:00:00Z',
            idempotencyKey: `ow-${(usageSeq += 1)}`,
          },
        ],
      },
      'platform',
      Role.SERVICE,
    );
    expect(usage.recordUsage.accepted).toBe(1);
    const data = await ok<{ createInvoice: { __typename: string; id: string; status: string } }>(
      `mutation { createInvoice(period: "2024-01") { __typename ... on Invoice { id status } } }`,
      {},
      userId,
      Role.USER,
    );
    expect(data.createInvoice).toMatchObject({ __typename: 'Invoice', status: 'OPEN' });
    return data.createInvoice.id;
  };
  const pay = async (userId: string, invoiceId: string) => {
    const data = await ok<{ payInvoice: { __typename: string } }>(
      `mutation($id: ID!) { payInvoice(invoiceId: $id, paymentMethodId: "pm_card_visa") { __typename } }`,
      { id: invoiceId },
      userId,
      Role.USER,
    );
    expect(data.payInvoice.__typename).toBe('Invoice');
  };
  const cancel = async (userId: string, invoiceId: string) => {
    const data = await ok<{ cancelInvoice: { __typename: string } }>(
      `mutation($id: ID!) { cancelInvoice(invoiceId: $id, reason: "duplicate") { __typename } }`,
      { id: invoiceId },
      userId,
      Role.USER,
    );
    expect(data.cancelInvoice.__typename).toBe('Invoice');
  };

  beforeAll(async () => {
    t = await startTestServer({}, { clock, delivery: 'ideal' });
    server = t.server;
    graphqlUrl = t.graphqlUrl;
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(async () => {
    await server.close();
    await t.close();
  });

  it('sends a change at once, woken by the NOTIFY of the transaction that queued it, with the clock standing still', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const { endpoint: ep, secret } = await register(receiver.url, ['invoice.created', 'invoice.finalized']);
    receiver.secrets = [secret];
    // The worker sleeps its poll on the ManualClock, which this test never moves: only a wake-up can send anything.
    const frozenAt = clock.now();
    const g = await openInvoice('ow-gina');
    await waitForEvent(
      'created and finalized at the receiver',
      () => receiver.accepted.length >= 2,
      receiver.changes.subscribe,
    );
    expect(clock.now()).toBe(frozenAt);
    expect(receiver.typesByInvoice()).toEqual({ [g]: ['invoice.created', 'invoice.finalized'] });

    // A replay wakes it too.
    const created = (await deliveries(ep.id)).find((d) => d.type === 'invoice.created')!;
    await ok(`mutation($id: ID!) { replayWebhookDelivery(id: $id) { id } }`, { id: created.id });
    await waitForEvent('the replay', () => receiver.accepted.length >= 3, receiver.changes.subscribe);
    expect(clock.now()).toBe(frozenAt);
    expect(receiver.accepted[2]).toMatchObject({ id: created.messageId, type: 'invoice.created', invoiceId: g });
    await ok(`mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`, { id: ep.id });
    await receiver.stop();
  });

  it('gets every event once, in order per invoice, through a 500 outage, a receiver down and a server restart', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const { endpoint: ep, secret } = await register(receiver.url);
    receiver.secrets = [secret];
    receiver.mode = 'fail';

    const a = await openInvoice('ow-alice');
    await pay('ow-alice', a);
    const b = await openInvoice('ow-bob');
    await cancel('ow-bob', b);

    // The outage: the receiver answers 500, every message is retried with backoff.
    await drive(async () => receiver.requests.filter((r) => r.status === 500).length >= 6, 60_000, '500s');
    // Then it is down altogether.
    await receiver.stop();
    await drive(
      async () => (await deliveries(ep.id)).some((d) => d.log.some((l) => l.statusCode === null && l.error)),
      60_000,
      'a refused connection in the log',
    );
    // The server restarts meanwhile: a new instance on the same database takes over the pending deliveries.
    await server.close();
    // Stripe pacing on the system clock, as the harness builds it: on the ManualClock a Stripe call would wait for the test.
    server = await createServer({ config: t.config, db: t.database.db, clock, gateway: gatewayFromConfig(t.config) });
    const url = await server.listen(0, '127.0.0.1');
    graphqlUrl = `${url}/graphql`;
    t.emulator.setWebhookTarget(`${url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
    clock.advance(HOUR);

    // The receiver is back and healthy: everything arrives.
    receiver.mode = 'ok';
    await receiver.start();
    await drive(async () => receiver.accepted.length >= 6, HOUR, 'six messages accepted');
    await drive(
      async () => (await deliveries(ep.id)).every((d) => d.status === 'DELIVERED'),
      HOUR,
      'every delivery delivered',
    );

    expect(receiver.typesByInvoice()).toEqual({
      [a]: ['invoice.created', 'invoice.finalized', 'invoice.paid'],
      [b]: ['invoice.created', 'invoice.finalized', 'invoice.voided'],
    });
    const ids = receiver.accepted.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The log keeps every attempt: the 500s, the refused connections, the success.
    const log = (await deliveries(ep.id)).flatMap((d) => d.log);
    expect(log.some((l) => l.statusCode === 500 && l.error === 'receiver answered HTTP 500')).toBe(true);
    expect(log.some((l) => l.statusCode === null)).toBe(true);
    expect(log.filter((l) => l.statusCode === 204)).toHaveLength(6);
    await ok(`mutation($id: ID!) { disableWebhookEndpoint(id: $id, reason: "test over") { id } }`, { id: ep.id });
    expect(await endpoint(ep.id)).toMatchObject({ status: 'DISABLED', disabledReason: 'test over' });
    await receiver.stop();
  });
  it('signs with the old and the new secret during a rotation, then the new one only; a replay sends the same message again', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const { endpoint: ep, secret: first } = await register(receiver.url, [
      'invoice.created',
      'invoice.finalized',
      'invoice.voided',
    ]);
    const rotated = (
      await ok<{ rotateWebhookEndpointSecret: { secret: string; endpoint: Endpoint } }>(
        `mutation($id: ID!) { rotateWebhookEndpointSecret(id: $id, overlapHours: 24) { secret endpoint { ${ENDPOINT_FIELDS} } } }`,
        { id: ep.id },
      )
    ).rotateWebhookEndpointSecret;
    expect(rotated.secret).not.toBe(first);
    expect(rotated.endpoint.signingSecrets).toHaveLength(2);
    receiver.secrets = [first, rotated.secret];
    // At rest both are sealed (AES-256-GCM): the column holds neither secret, nor its key material.
    const [row] = await t.database.db.orm.em
      .fork()
      .execute<Array<{ secrets: string }>>('select secrets::text as secrets from webhook_endpoints where id = ?', [
        ep.id,
      ]);
    for (const secret of [first, rotated.secret]) {
      expect(row.secrets).not.toContain(secret.slice('whsec_'.length));
    }
    expect((JSON.parse(row.secrets) as Array<{ secret: string }>).map((s) => s.secret.split(':')[0])).toEqual([
      'v1',
      'v1',
    ]);

    const c = await openInvoice('ow-carol');
    await drive(() => receiver.accepted.length >= 2, 60_000, 'created and finalized');
    // During the overlap each message carries both signatures: a receiver knowing either secret verifies it.
    expect(receiver.accepted.map((m) => m.verifiedBy)).toEqual([
      [0, 1],
      [0, 1],
    ]);

    const created = (await deliveries(ep.id)).find((d) => d.type === 'invoice.created')!;
    const replayed = (
      await ok<{ replayWebhookDelivery: Delivery }>(
        `mutation($id: ID!) { replayWebhookDelivery(id: $id) { ${DELIVERY_FIELDS} } }`,
        { id: created.id },
      )
    ).replayWebhookDelivery;
    expect(replayed.status).toBe('PENDING');
    await drive(() => receiver.accepted.length >= 3, 60_000, 'the replay');
    expect(receiver.accepted[2]).toMatchObject({ id: created.messageId, type: 'invoice.created', invoiceId: c });
    const after = (await deliveries(ep.id)).find((d) => d.id === created.id)!;
    expect(after.status).toBe('DELIVERED');
    expect(after.log.map((l) => l.statusCode)).toEqual([204, 204]);

    // The overlap ends: only the new secret signs.
    clock.advance(25 * HOUR);
    await cancel('ow-carol', c);
    await drive(() => receiver.accepted.length >= 4, 60_000, 'voided');
    expect(receiver.accepted[3]).toMatchObject({ type: 'invoice.voided', verifiedBy: [1] });
    await ok(`mutation($id: ID!) { disableWebhookEndpoint(id: $id) { id } }`, { id: ep.id });
    await receiver.stop();
  });

  it('disables an endpoint that fails for three days, and sends everything in order once it is enabled again', async () => {
    const receiver = new Receiver();
    await receiver.start();
    await receiver.stop();
    const { endpoint: ep, secret } = await register(receiver.url);
    receiver.secrets = [secret];
    const d = await openInvoice('ow-dave');

    await drive(async () => (await endpoint(ep.id)).status === 'DISABLED', 6 * HOUR, 'the endpoint disabled');
    const disabled = await endpoint(ep.id);
    expect(disabled.disabledReason).toMatch(/failed for 72 hours \(last: fetch failed: ECONNREFUSED\)/);
    const [finalized, created] = await deliveries(ep.id);
    expect(created).toMatchObject({ type: 'invoice.created', status: 'FAILED' });
    expect(created.log.length).toBeGreaterThan(10);
    expect(created.log.every((l) => l.statusCode === null)).toBe(true);
    // The next event of the invoice waited behind it, never sent out of order.
    expect(finalized).toMatchObject({ type: 'invoice.finalized', status: 'PENDING', attempts: 0 });

    await receiver.start();
    const enabled = (
      await ok<{ enableWebhookEndpoint: Endpoint }>(
        `mutation($id: ID!) { enableWebhookEndpoint(id: $id) { ${ENDPOINT_FIELDS} } }`,
        { id: ep.id },
      )
    ).enableWebhookEndpoint;
    expect(enabled).toMatchObject({ status: 'ACTIVE', disabledReason: null });
    await drive(() => receiver.accepted.length >= 2, 60_000, 'both events after enabling');
    expect(receiver.typesByInvoice()).toEqual({ [d]: ['invoice.created', 'invoice.finalized'] });
    await receiver.stop();
  });

  it('announces a refund: its credit note, then invoice.refunded with the amounts after it, in order after invoice.paid', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const { secret } = await register(receiver.url, ['invoice.paid', 'invoice.refunded', 'credit_note.created']);
    receiver.secrets = [secret];
    const e = await openInvoice('ow-erin');
    await pay('ow-erin', e);
    const refund = await ok<{ refundInvoice: { __typename: string } }>(
      `mutation($id: ID!) { refundInvoice(invoiceId: $id, amountMinor: 100, reason: "goodwill", idempotencyKey: "ow-erin-1") { __typename } }`,
      { id: e },
    );
    expect(refund.refundInvoice.__typename).toBe('InvoiceCreditNote');

    await drive(() => receiver.accepted.length >= 3, 60_000, 'the payment, the note and the refund');
    expect(receiver.typesByInvoice()).toEqual({ [e]: ['invoice.paid', 'credit_note.created', 'invoice.refunded'] });
    const refunded = receiver.accepted[2].data as {
      invoice: { amountRefundedMinor: number; amountPaidMinor: number };
      creditNote: { kind: string; amountMinor: number; number: string; status: string };
    };
    expect(refunded.invoice.amountRefundedMinor).toBe(100);
    expect(refunded.invoice.amountPaidMinor).toBeGreaterThan(100);
    expect(refunded.creditNote).toMatchObject({ kind: 'REFUND', amountMinor: 100, status: 'ISSUED' });
    expect(refunded.creditNote.number).toMatch(/-CN-\d{4}-\d{2}-\d{6}$/);
    await receiver.stop();
  });

  it('announces a completed billing run with its figures', async () => {
    const receiver = new Receiver();
    await receiver.start();
    const { secret } = await register(receiver.url, ['billing_run.completed']);
    receiver.secrets = [secret];
    await ok(
      `mutation { recordUsage(events: [{ userId: "ow-frank", metric: "llm_input_tokens", quantity: "1000", occurredAt: "2023-12-05T10:00:00Z", idempotencyKey: "ow-run-1" }]) { accepted } }`,
      {},
      'platform',
      Role.SERVICE,
    );
    const run = await ok<{ runBilling: { __typename: string } }>(
      `mutation { runBilling(period: "2023-12", wait: true) { __typename } }`,
    );
    expect(run.runBilling.__typename).toBe('BillingRun');

    await drive(() => receiver.accepted.length >= 1, 60_000, 'the run announced');
    expect(receiver.accepted.map((m) => m.type)).toEqual(['billing_run.completed']);
    const { billingRun } = receiver.accepted[0].data as {
      billingRun: { period: string; total: number; done: number; failed: number; skipped: number };
    };
    // One customer, billed or skipped (below the invoicing minimum), none failed.
    expect(billingRun).toMatchObject({ period: '2023-12', total: 1, failed: 0 });
    expect(billingRun.done + billingRun.skipped).toBe(1);
    await receiver.stop();
  });
});

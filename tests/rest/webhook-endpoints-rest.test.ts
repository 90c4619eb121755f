import { Role } from '../../src/entities/enums';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { operator } from '../helpers/fixtures';
import { Wakeups, waitForEvent } from '../helpers/wait';
import { Receiver } from '../outgoing-webhooks/receiver';
import type { RestResponse, RestServer } from './rest-harness';
import { startRestServer } from './rest-harness';

type Op = Awaited<ReturnType<typeof operator>>;

function expectError(res: RestResponse, status: number, code: string, param?: string): void {
  expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
  if (param) {
    expect(res.body.error.param).toBe(param);
  }
  expect(res.text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+|whsec_/);
}

/**
 * The admins' REST routes over outgoing webhook endpoints, every response checked against the OpenAPI document by
 * the harness, with a real receiver verifying what the server sends (`standardwebhooks`).
 */
describe('outgoing webhook endpoints over REST', () => {
  let s: RestServer;
  let op: Op;
  let admin: string;
  const receiver = new Receiver();

  const invoice = async (userId: string): Promise<string> => {
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1000000', occurredAt: '2024-01-15T10:00:00Z' }]);
    const res = await s.call('POST', `/api/v1/billing/invoice/2024-01/create?user_id=${userId}`, {
      token: await s.t.token(userId),
    });
    expect(res.status).toBe(200);
    return res.body.invoice_id as string;
  };
  const accepted = (n: number, what: string) =>
    waitForEvent(what, () => receiver.accepted.length >= n, receiver.changes.subscribe);
  // The receiver answers before the server records the attempt: what admins read (and what a replay may reset) is
  // settled only once the attempt is recorded.
  let recordedAttempts = 0;
  const recordedChanges = new Wakeups();
  const recorded = (n: number, what: string) =>
    waitForEvent(`${what} recorded`, () => recordedAttempts >= n, recordedChanges.subscribe);

  beforeAll(async () => {
    s = await startRestServer();
    await seedDefaultCatalogue(s.t.database.db.orm.em.fork());
    s.t.server.onOutgoingAttempt(() => {
      recordedAttempts += 1;
      recordedChanges.wake();
    });
    op = await operator(s.t);
    admin = await s.t.token('admin-1', Role.ADMIN);
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
    await s.close();
  });

  it('refuses callers without a token or the admin role, and bad endpoints with the field at fault', async () => {
    expectError(await s.call('GET', '/api/v1/webhook-endpoints'), 401, 'unauthenticated');
    const user = await s.t.token('rest-wh-user');
    expectError(await s.call('GET', '/api/v1/webhook-endpoints', { token: user }), 403, 'forbidden');
    expectError(
      await s.call('POST', '/api/v1/webhook-endpoints', {
        token: user,
        json: { url: receiver.url, event_types: ['invoice.paid'] },
      }),
      403,
      'forbidden',
    );
    const create = (json: unknown) => s.call('POST', '/api/v1/webhook-endpoints', { token: admin, json });
    expectError(
      await create({ url: 'ftp://example.com/hooks', event_types: ['invoice.paid'] }),
      422,
      'validation_error',
      'url',
    );
    expectError(await create({ url: receiver.url, event_types: ['invoice.nope'] }), 422, 'validation_error');
    expectError(await create({ url: receiver.url, event_types: [] }), 422, 'validation_error');
    expectError(
      await create({ url: receiver.url, event_types: ['invoice.paid'], rate_per_second: 0 }),
      422,
      'validation_error',
    );
    expectError(await create({ event_types: ['invoice.paid'] }), 400, 'invalid_request', 'url');
    expectError(
      await s.call('GET', '/api/v1/webhook-endpoints/00000000-0000-4000-8000-000000000000', { token: admin }),
      404,
      'not_found',
    );
    expectError(await s.call('POST', '/api/v1/webhook-deliveries/nope/replay', { token: admin }), 404, 'not_found');
    const listed = await s.call('GET', '/api/v1/webhook-endpoints', { token: admin });
    expect(listed.body).toEqual({ success: true, endpoints: [] });
  });

  it('registers, changes, lists deliveries, replays one and a time range, rotates, disables and enables', async () => {
    const created = await s.call('POST', '/api/v1/webhook-endpoints', {
      token: admin,
      json: { url: receiver.url, event_types: ['invoice.created'], description: 'platform' },
    });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      success: true,
      secret: expect.stringMatching(/^whsec_/),
      endpoint: { url: receiver.url, event_types: ['invoice.created'], status: 'active', rate_per_second: 10 },
    });
    const id = created.body.endpoint.endpoint_id as string;
    receiver.secrets = [created.body.secret as string];

    const updated = await s.call('PATCH', `/api/v1/webhook-endpoints/${id}`, {
      token: admin,
      json: { event_types: ['invoice.created', 'invoice.finalized'], rate_per_second: 50 },
    });
    expect(updated.body.endpoint).toMatchObject({
      event_types: ['invoice.created', 'invoice.finalized'],
      rate_per_second: 50,
      description: 'platform',
    });

    const from = new Date(Date.now() - 1000).toISOString();
    const a = await invoice('rest-wh-alice');
    await accepted(2, 'created and finalized');
    await recorded(2, 'created and finalized');
    expect(receiver.typesByInvoice()).toEqual({ [a]: ['invoice.created', 'invoice.finalized'] });

    const listed = await s.call('GET', `/api/v1/webhook-endpoints/${id}/deliveries?limit=10`, { token: admin });
    expect(listed.status).toBe(200);
    const [finalized, first] = listed.body.deliveries as Array<{ delivery_id: string; message_id: string }>;
    expect(listed.body.deliveries).toMatchObject([
      { type: 'invoice.finalized', status: 'delivered', attempts: 1, log: [{ attempt: 1, status_code: 204 }] },
      { type: 'invoice.created', status: 'delivered', ordering_key: a },
    ]);
    const delivered = await s.call('GET', `/api/v1/webhook-endpoints/${id}/deliveries?status=delivered`, {
      token: admin,
    });
    expect(delivered.body.deliveries).toHaveLength(2);
    expectError(
      await s.call('GET', `/api/v1/webhook-endpoints/${id}/deliveries?limit=0`, { token: admin }),
      400,
      'invalid_limit',
    );

    // One delivery again: the same message (webhook-id).
    const replayed = await s.call('POST', `/api/v1/webhook-deliveries/${first.delivery_id}/replay`, { token: admin });
    expect(replayed.body.delivery).toMatchObject({ delivery_id: first.delivery_id, status: 'pending', attempts: 0 });
    await accepted(3, 'the replay');
    await recorded(3, 'the replay');
    expect(receiver.accepted[2]).toMatchObject({ id: first.message_id, type: 'invoice.created' });

    // A time range: both events again, in order.
    expectError(
      await s.call('POST', `/api/v1/webhook-endpoints/${id}/replay`, { token: admin, json: { from, to: from } }),
      422,
      'validation_error',
      'from',
    );
    const range = await s.call('POST', `/api/v1/webhook-endpoints/${id}/replay`, {
      token: admin,
      json: { from, to: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(range.body).toEqual({ success: true, queued: 2 });
    await accepted(5, 'the range replayed');
    expect(receiver.accepted.slice(3).map((m) => m.id)).toEqual([first.message_id, finalized.message_id]);

    // A range replay while one of its deliveries is in flight (the receiver has it and has not answered): it counts,
    // and the delivery is sent again once that attempt ends, still before the invoice's later event.
    await recorded(5, 'the range replayed');
    receiver.hold();
    await s.call('POST', `/api/v1/webhook-deliveries/${first.delivery_id}/replay`, { token: admin });
    await waitForEvent('a delivery in flight', () => receiver.heldCount === 1, receiver.changes.subscribe);
    const whileInFlight = await s.call('POST', `/api/v1/webhook-endpoints/${id}/replay`, {
      token: admin,
      json: { from, to: new Date(Date.now() + 60_000).toISOString() },
    });
    expect(whileInFlight.body).toEqual({ success: true, queued: 2 });
    receiver.release();
    await accepted(8, 'the attempt in flight, then the range');
    await recorded(8, 'the attempt in flight, then the range');
    expect(receiver.accepted.slice(5).map((m) => m.id)).toEqual([
      first.message_id,
      first.message_id,
      finalized.message_id,
    ]);

    // Rotation without overlap: only the new secret signs from now on.
    const rotated = await s.call('POST', `/api/v1/webhook-endpoints/${id}/rotate-secret`, {
      token: admin,
      json: { overlap_hours: 0 },
    });
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    expect(rotated.body.endpoint.signing_secrets).toHaveLength(1);
    receiver.secrets = [rotated.body.secret as string];

    const disabled = await s.call('POST', `/api/v1/webhook-endpoints/${id}/disable`, {
      token: admin,
      json: { reason: 'maintenance' },
    });
    expect(disabled.body.endpoint).toMatchObject({ status: 'disabled', disabled_reason: 'maintenance' });
    // Queued while disabled, sent once enabled.
    const b = await invoice('rest-wh-bob');
    const enabled = await s.call('POST', `/api/v1/webhook-endpoints/${id}/enable`, { token: admin });
    expect(enabled.body.endpoint).toMatchObject({ status: 'active', disabled_reason: null });
    await accepted(10, "bob's events after enabling");
    expect(receiver.typesByInvoice()[b]).toEqual(['invoice.created', 'invoice.finalized']);
    expect(receiver.accepted.slice(8).every((m) => m.verifiedBy.length === 1)).toBe(true);

    const all = await s.call('GET', '/api/v1/webhook-endpoints', { token: admin });
    expect(all.body.endpoints.map((e: { endpoint_id: string }) => e.endpoint_id)).toEqual([id]);
    const one = await s.call('GET', `/api/v1/webhook-endpoints/${id}`, { token: admin });
    expect(one.body.endpoint).toEqual(enabled.body.endpoint);
  });
});

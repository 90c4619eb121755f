import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, InvoiceDocument, InvoicesDocument, PayInvoiceDocument } from './generated/graphql';
import { ReplayWebhookEventDocument, WebhookEventsDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { waitFor } from './webhooks/fixtures';

/** The operator's view of Stripe webhooks over GraphQL, fed by the local Stripe's real deliveries. */
describe('webhookEvents and replayWebhookEvent', () => {
  let t: TestServer;
  let admin: string;
  let invoiceId: string;

  /** The processed events of a type, once there is one (the local Stripe delivers them, the worker applies them). */
  const processedEvents = (type: string): Promise<Array<{ id: string; status: string; attempts: number }>> =>
    waitFor(
      async () => {
        const res = await t.gql(WebhookEventsDocument, { type, status: 'PROCESSED' }, { token: admin });
        const nodes = res.body.data?.webhookEvents.edges.map((e) => e.node) ?? [];
        return nodes.length > 0 ? nodes : null;
      },
      undefined,
      `a processed ${type} event`,
    );

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    const op = await operator(t);
    admin = op.admin;
    await op.record([
      { userId: 'hooked', metric: 'llm_input_tokens', quantity: '500000', occurredAt: '2024-01-03T00:00:00Z' },
    ]);
    const token = await t.token('hooked');
    const created = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token });
    invoiceId = created.body.data?.createInvoice.__typename === 'Invoice' ? created.body.data.createInvoice.id : '';
    await t.gql(PayInvoiceDocument, { invoiceId, paymentMethodId: 'pm_card_visa' }, { token });
  });
  afterAll(() => t.close());

  it('lists the events Stripe delivered, filtered by type and status', async () => {
    const paid = await processedEvents('invoice.paid');
    expect(paid).toHaveLength(1);
    const all = await t.gql(WebhookEventsDocument, { type: 'invoice.*', first: 100 }, { token: admin });
    const types = all.body.data?.webhookEvents.edges.map((e) => e.node.type) ?? [];
    expect(types).toEqual(expect.arrayContaining(['invoice.created', 'invoice.finalized', 'invoice.paid']));
    expect(types.every((type) => type.startsWith('invoice.'))).toBe(true);
  });

  it('replays an event without applying its effect twice', async () => {
    const [paid] = await processedEvents('invoice.paid');
    const replayed = await t.gql(ReplayWebhookEventDocument, { id: paid.id }, { token: admin });
    expect(replayed.body.data?.replayWebhookEvent).toMatchObject({ id: paid.id, status: 'PENDING' });
    await processedEvents('invoice.paid');
    const invoice = await t.gql(InvoiceDocument, { id: invoiceId }, { token: admin });
    // One PAID in the history: the API's; the webhook and its replay found the invoice already PAID.
    expect(invoice.body.data?.invoice.statusHistory.filter((h) => h.to === 'PAID')).toHaveLength(1);
  });

  it('answers dates and cursors it cannot use with BAD_USER_INPUT, not an internal error', async () => {
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    const since = await t.gql('{ webhookEvents(since: "0001-01-01T00:00:00Z") { totalCount } }', undefined, {
      token: admin,
    });
    expect(since.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const inputs = [
      { after: cursor('+099999-01-01T00:00:00.000Z|evt_x') },
      { after: cursor('-271821-04-20T00:00:00.000Z|evt_x') },
    ];
    for (const variables of inputs) {
      const res = await t.gql(WebhookEventsDocument, variables, { token: admin });
      expect(res.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    const invoices = await t.gql(
      InvoicesDocument,
      { after: cursor('+099999-01-01T00:00:00.000Z|00000000-0000-0000-0000-000000000000') },
      { token: admin },
    );
    expect(invoices.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('is for admins only', async () => {
    const user = await t.token('hooked', Role.USER);
    const list = await t.gql(WebhookEventsDocument, {}, { token: user });
    expect(list.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const replay = await t.gql(ReplayWebhookEventDocument, { id: 'evt_x' }, { token: user });
    expect(replay.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const missing = await t.gql(ReplayWebhookEventDocument, { id: 'evt_missing' }, { token: admin });
    expect(missing.body.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });
});

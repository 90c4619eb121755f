import { randomUUID } from 'node:crypto';
import { print } from 'graphql';
import type Stripe from 'stripe';
import { Invoice } from '../../src/entities';
import { Role } from '../../src/entities/enums';
import { reconcile } from '../../src/services/reconciliation/reconcile-invoices.service';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import { TEST_WEBHOOK_SECRET } from '../helpers/server';
import {
  CreateCreditNoteDocument,
  CreateInvoiceDocument,
  InvoiceCreditNotesDocument,
  PayInvoiceDocument,
  PaymentStatusChangedDocument,
  RefundInvoiceDocument,
} from '../generated/graphql';
import type { PaymentStatusChangedSubscription } from '../generated/graphql';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { collectOpen, startTestServer } from '../helpers/server';
import { waitForEvent } from '../helpers/wait';
import { Receiver } from '../outgoing-webhooks/receiver';
import { documentedSchema, schemaProblems } from '../rest/rest-harness';
import { postWebhook, settled } from '../webhooks/fixtures';

/** Refunds and credit notes: through Stripe credit notes, never more than paid or due, and from the Dashboard too. */
describe('refunds and credit notes', () => {
  let t: TestServer;
  let admin: string;

  const openInvoice = async (userId: string): Promise<{ id: string; totalMinor: number }> => {
    const op = await operator(t);
    await op.record([{ userId, metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' }]);
    const res = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token(userId) });
    const invoice = res.body.data!.createInvoice;
    if (invoice.__typename !== 'Invoice') {
      throw new Error(`expected an open invoice, got ${JSON.stringify(invoice)}`);
    }
    return { id: invoice.id, totalMinor: invoice.amount.amountMinor };
  };
  const paidInvoice = async (userId: string) => {
    const invoice = await openInvoice(userId);
    const res = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_visa' },
      { token: await t.token(userId) },
    );
    expect(res.body.data?.payInvoice).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    return invoice;
  };
  const read = async (id: string) => {
    const res = await t.gql(InvoiceCreditNotesDocument, { id }, { token: admin });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.invoice;
  };
  /** One intended refund: a new key unless the test repeats one. */
  const refund = (invoiceId: string, amountMinor?: number, idempotencyKey: string = randomUUID()) =>
    t.gql(
      RefundInvoiceDocument,
      { invoiceId, amountMinor, reason: 'Service outage', idempotencyKey },
      { token: admin },
    );
  const stripeInvoiceOf = async (invoiceId: string): Promise<Stripe.Invoice> => {
    const row = await t.database.db.orm.em.fork().findOneOrFail(Invoice, invoiceId);
    return t.stripe.invoices.retrieve(row.stripeInvoiceId!, { expand: ['payments.data.payment.payment_intent'] });
  };
  const chargeOf = async (invoiceId: string): Promise<Stripe.Charge> => {
    const inv = await stripeInvoiceOf(invoiceId);
    const pi = inv.payments!.data.find((p) => p.status === 'paid')!.payment.payment_intent as Stripe.PaymentIntent;
    return t.stripe.charges.retrieve(pi.latest_charge as string);
  };
  /** Every webhook the local Stripe sent so far is applied. */
  const webhooksApplied = async (): Promise<void> => {
    await t.control.waitForWebhooks();
    const rows = await t.database.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ id: string }>>("select id from webhook_events where status in ('pending', 'processing')");
    for (const { id } of rows) {
      await settled(t.database.db, id);
    }
  };

  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    admin = await t.token('admin-1', Role.ADMIN);
  });
  afterAll(() => t.close());

  it('pay → refund half → refund the rest → a third refund is refused; each shows, in Stripe and live', async () => {
    const user = 'u-refund-story';
    const invoice = await paidInvoice(user);
    const half = Math.floor(invoice.totalMinor / 2);
    const feed = await collectOpen<PaymentStatusChangedSubscription>(
      t.server,
      t.wsClient(await t.token(user)),
      print(PaymentStatusChangedDocument),
      { invoiceId: invoice.id },
    );

    const first = (await refund(invoice.id, half, 'refund-1')).body.data!.refundInvoice;
    if (first.__typename !== 'InvoiceCreditNote') {
      throw new Error(`expected a refund, got ${JSON.stringify(first)}`);
    }
    expect(first.creditNote.number).toMatch(/^AH-CN-\d{4}-\d{2}-\d{6}$/);
    expect(first.invoice).toMatchObject({ status: 'PAID', amountRefunded: { amountMinor: half } });
    const [pushed] = await feed.waitFor(1);
    expect(pushed.paymentStatusChanged).toMatchObject({ previousStatus: 'PAID', status: 'PAID', source: 'API' });
    expect(pushed.paymentStatusChanged.reason).toContain(first.creditNote.number);
    feed.stop();

    // The same key answers the same refund: nothing more is refunded.
    const again = (await refund(invoice.id, half, 'refund-1')).body.data!.refundInvoice;
    expect(again).toMatchObject({ creditNote: { id: first.creditNote.id } });
    expect((await chargeOf(invoice.id)).amount_refunded).toBe(half);

    const rest = (await refund(invoice.id)).body.data!.refundInvoice;
    expect(rest).toMatchObject({
      __typename: 'InvoiceCreditNote',
      invoice: { amountRefunded: { amountMinor: invoice.totalMinor } },
    });
    const third = (await refund(invoice.id, 1)).body.data!.refundInvoice;
    expect(third).toMatchObject({
      __typename: 'CreditAmountExceeded',
      code: 'CREDIT_AMOUNT_EXCEEDED',
      available: { amountMinor: 0 },
    });

    const charge = await chargeOf(invoice.id);
    expect(charge).toMatchObject({ amount_refunded: invoice.totalMinor, refunded: true });
    const stripeInvoice = await stripeInvoiceOf(invoice.id);
    expect(stripeInvoice.post_payment_credit_notes_amount).toBe(invoice.totalMinor);
    const notes = await t.stripe.creditNotes.list({ invoice: stripeInvoice.id });
    expect(notes.data).toHaveLength(2);

    await webhooksApplied();
    const after = await read(invoice.id);
    expect(after).toMatchObject({
      status: 'PAID',
      amountPaid: { amountMinor: invoice.totalMinor },
      amountRefunded: { amountMinor: invoice.totalMinor },
    });
    expect(after.creditNotes.map((n) => [n.kind, n.status, n.amount.amountMinor, n.refunded.amountMinor])).toEqual([
      ['REFUND', 'ISSUED', half, half],
      ['REFUND', 'ISSUED', invoice.totalMinor - half, invoice.totalMinor - half],
    ]);
    expect(after.statusHistory.filter((h) => h.from === 'PAID' && h.to === 'PAID')).toHaveLength(2);
    // Usage billed stays billed: the period is still invoiced.
    const reinvoice = await t.gql(CreateInvoiceDocument, { period: '2024-01' }, { token: await t.token(user) });
    expect(reinvoice.body.data!.createInvoice).toMatchObject({ __typename: 'Invoice', id: invoice.id });
  });

  it('concurrent refunds never exceed what was paid', async () => {
    const invoice = await paidInvoice('u-refund-race');
    const part = Math.floor(invoice.totalMinor * 0.4);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => refund(invoice.id, part).then((r) => r.body.data!.refundInvoice)),
    );
    const refunded = results.filter((r) => r.__typename === 'InvoiceCreditNote');
    expect(refunded).toHaveLength(2);
    expect(results.filter((r) => r.__typename === 'CreditAmountExceeded')).toHaveLength(4);
    expect((await chargeOf(invoice.id)).amount_refunded).toBe(2 * part);
    await webhooksApplied();
    expect((await read(invoice.id)).amountRefunded.amountMinor).toBe(2 * part);
  });

  it('a credit note on an open invoice lowers the amount due in Stripe and ours alike; the card pays the rest', async () => {
    const invoice = await openInvoice('u-credit-open');
    const before = await read(invoice.id);
    const line = before.lines[0];
    const credit = Math.min(100, line.amount.amountMinor);
    const res = await t.gql(
      CreateCreditNoteDocument,
      {
        invoiceId: invoice.id,
        lines: [{ invoiceLineId: line.id, amountMinor: credit }],
        reason: 'Goodwill',
        idempotencyKey: 'credit-open-1',
      },
      { token: admin },
    );
    expect(res.body.data!.createCreditNote).toMatchObject({
      __typename: 'InvoiceCreditNote',
      invoice: {
        status: 'OPEN',
        amountCredited: { amountMinor: credit },
        amountRemaining: { amountMinor: invoice.totalMinor - credit },
      },
    });
    const stripeInvoice = await stripeInvoiceOf(invoice.id);
    expect(stripeInvoice).toMatchObject({
      amount_due: invoice.totalMinor - credit,
      amount_remaining: invoice.totalMinor - credit,
      pre_payment_credit_notes_amount: credit,
    });
    const over = await t.gql(
      CreateCreditNoteDocument,
      { invoiceId: invoice.id, amountMinor: invoice.totalMinor, idempotencyKey: 'credit-open-2' },
      { token: admin },
    );
    expect(over.body.data!.createCreditNote).toMatchObject({
      __typename: 'CreditAmountExceeded',
      available: { amountMinor: invoice.totalMinor - credit },
    });
    const userTry = await t.gql(
      CreateCreditNoteDocument,
      { invoiceId: invoice.id, amountMinor: 1, idempotencyKey: 'credit-open-3' },
      { token: await t.token('u-credit-open') },
    );
    expect(userTry.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const paid = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_visa' },
      { token: await t.token('u-credit-open') },
    );
    expect(paid.body.data?.payInvoice).toMatchObject({ __typename: 'Invoice', status: 'PAID' });
    expect((await chargeOf(invoice.id)).amount).toBe(invoice.totalMinor - credit);
    expect(await read(invoice.id)).toMatchObject({
      amountPaid: { amountMinor: invoice.totalMinor - credit },
      amountRemaining: { amountMinor: 0 },
    });
  });

  it('a refund made directly in Stripe arrives by webhook and shows on the invoice', async () => {
    const invoice = await paidInvoice('u-refund-dashboard');
    const charge = await chargeOf(invoice.id);
    const quarter = Math.floor(invoice.totalMinor / 4);
    await t.stripe.refunds.create({ charge: charge.id, amount: quarter });
    await webhooksApplied();
    const after = await read(invoice.id);
    expect(after.amountRefunded.amountMinor).toBe(quarter);
    expect(after.statusHistory.at(-1)).toMatchObject({ from: 'PAID', to: 'PAID', source: 'WEBHOOK' });
    expect(after.statusHistory.at(-1)!.reason).toContain('Refunded');

    // A credit note with a refund made in the Dashboard is recorded with a number of ours.
    await t.stripe.creditNotes.create({
      invoice: (await stripeInvoiceOf(invoice.id)).id,
      amount: quarter,
      refund_amount: quarter,
    });
    await webhooksApplied();
    const later = await read(invoice.id);
    expect(later.amountRefunded.amountMinor).toBe(2 * quarter);
    expect(later.creditNotes).toEqual([
      expect.objectContaining({ kind: 'REFUND', status: 'ISSUED', amount: { amountMinor: quarter } }),
    ]);
    expect(later.creditNotes[0].number).toMatch(/^AH-CN-/);
    // What is left to refund follows.
    const tooMuch = (await refund(invoice.id, invoice.totalMinor - 2 * quarter + 1)).body.data!.refundInvoice;
    expect(tooMuch).toMatchObject({
      __typename: 'CreditAmountExceeded',
      available: { amountMinor: invoice.totalMinor - 2 * quarter },
    });
  });

  it('only admins refund, and only paid invoices', async () => {
    const invoice = await openInvoice('u-refund-open');
    const asUser = await t.gql(
      RefundInvoiceDocument,
      { invoiceId: invoice.id, idempotencyKey: 'user-try' },
      { token: await t.token('u-refund-open') },
    );
    expect(asUser.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await refund(invoice.id, 10)).body.data!.refundInvoice).toMatchObject({
      __typename: 'InvoiceStateError',
      code: 'INVALID_INVOICE_STATE',
    });
    const bad = await refund(invoice.id, -5);
    expect(bad.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('REST: refund and credit note routes answer as documented', async () => {
    const post = async (path: string, body: unknown, token = admin, key: string | null = randomUUID()) => {
      const res = await fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...(key === null ? {} : { 'idempotency-key': key }),
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const open = await openInvoice('u-rest-credit');
    const line = (await read(open.id)).lines[0];
    const credited = await post(
      `/api/v1/billing/invoice/${open.id}/credit-notes`,
      {
        lines: [{ invoice_line_id: line.id, amount_minor: 10 }],
        idempotency_key: 'rest-credit-1',
      },
      admin,
      null,
    );
    expect(credited.status).toBe(200);
    expect(credited.body).toMatchObject({
      success: true,
      credit_note: { kind: 'credit', status: 'issued', amount: 0.1 },
      invoice: { amount_credited: 0.1 },
    });
    const path = '/api/v1/billing/invoice/{invoice_id}/credit-notes';
    expect(schemaProblems(documentedSchema(path, 'post', 200), credited.body)).toEqual([]);

    const paid = await paidInvoice('u-rest-refund');
    const refunded = await post(`/api/v1/billing/invoice/${paid.id}/refund`, { amount_minor: 20, reason: 'Outage' });
    expect(refunded.status).toBe(200);
    expect(refunded.body).toMatchObject({
      credit_note: { kind: 'refund', refunded: 0.2 },
      invoice: { amount_refunded: 0.2 },
    });
    const refundPath = '/api/v1/billing/invoice/{invoice_id}/refund';
    expect(schemaProblems(documentedSchema(refundPath, 'post', 200), refunded.body)).toEqual([]);
    const tooMuch = await post(`/api/v1/billing/invoice/${paid.id}/refund`, { amount_minor: paid.totalMinor });
    expect(tooMuch).toMatchObject({ status: 422, body: { success: false, error: { code: 'amount_exceeded' } } });
    const notAdmin = await post(`/api/v1/billing/invoice/${paid.id}/refund`, {}, await t.token('u-rest-refund'));
    expect(notAdmin.status).toBe(403);
    const bad = await post(`/api/v1/billing/invoice/${paid.id}/refund`, { amount_minor: 0 });
    expect(bad.status).toBe(422);
  });

  interface RestAnswer {
    success: boolean;
    credit_note?: { credit_note_id: string };
    error?: { code: string; param?: string };
  }

  it('a client retry cannot refund twice: the key is required, and the same key answers the same refund', async () => {
    const invoice = await paidInvoice('u-refund-retry');
    const url = `${t.url}/api/v1/billing/invoice/${invoice.id}/refund`;
    const send = (headers: Record<string, string>, body: object) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      }).then(async (res) => ({ status: res.status, body: (await res.json()) as RestAnswer }));

    // No key anywhere: refused before anything is reserved or sent to Stripe.
    const keyless = await send({}, { amount_minor: 25 });
    expect(keyless).toMatchObject({
      status: 400,
      body: { success: false, error: { code: 'invalid_request', param: 'Idempotency-Key' } },
    });
    const keylessGraphQL = await t.gql(
      `mutation($id: ID!) { refundInvoice(invoiceId: $id, amountMinor: 25) { __typename } }`,
      { id: invoice.id },
      { token: admin },
    );
    expect(keylessGraphQL.body.errors?.[0].message).toMatch(/idempotencyKey/);
    expect((await chargeOf(invoice.id)).amount_refunded).toBe(0);

    // The same request twice (a timeout, a double submit): one refund, the same note both times.
    const first = await send({ 'idempotency-key': 'form-42' }, { amount_minor: 25, reason: 'Outage' });
    const retry = await send({ 'idempotency-key': 'form-42' }, { amount_minor: 25, reason: 'Outage' });
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    const noteId = first.body.credit_note!.credit_note_id;
    expect(noteId).toMatch(/^[0-9a-f-]{36}$/);
    expect(retry.body.credit_note!.credit_note_id).toBe(noteId);
    // The body's key is the same key; GraphQL's argument too.
    const inBody = await send({}, { amount_minor: 25, idempotency_key: 'form-42' });
    expect(inBody.body.credit_note?.credit_note_id).toBe(noteId);
    const viaGraphQL = (await refund(invoice.id, 25, 'form-42')).body.data!.refundInvoice;
    expect(viaGraphQL).toMatchObject({ creditNote: { id: noteId } });
    expect((await chargeOf(invoice.id)).amount_refunded).toBe(25);
    expect((await read(invoice.id)).creditNotes).toHaveLength(1);

    // A key reused for another amount is a client bug, refused; two different keys in one request too.
    const reused = await send({ 'idempotency-key': 'form-42' }, { amount_minor: 26 });
    expect(reused).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    const twoKeys = await send({ 'idempotency-key': 'form-43' }, { amount_minor: 26, idempotency_key: 'form-44' });
    expect(twoKeys).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect((await chargeOf(invoice.id)).amount_refunded).toBe(25);
  });

  it('reconciliation applies a credit note whose webhook never came', async () => {
    const invoice = await paidInvoice('u-refund-reconcile');
    await webhooksApplied();
    await t.control.setWebhookTarget(null);
    try {
      await t.stripe.creditNotes.create({
        invoice: (await stripeInvoiceOf(invoice.id)).id,
        amount: 30,
        refund_amount: 30,
      });
    } finally {
      await t.control.setWebhookTarget(`${t.url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
    }
    expect((await read(invoice.id)).creditNotes).toEqual([]);
    const deps = { em: t.database.db.orm.em.fork(), gateway: gatewayFromConfig(t.config), config: t.config };
    const dry = await reconcile(deps, { period: '2024-01', dryRun: true });
    expect(dry.changes.filter((c) => c.invoiceId === invoice.id)).toEqual([
      expect.objectContaining({ action: 'credit_note', to: 'ISSUED', applied: false }),
    ]);
    const report = await reconcile(deps, { period: '2024-01' });
    expect(report.changes.filter((c) => c.invoiceId === invoice.id)).toEqual([
      expect.objectContaining({ action: 'credit_note', to: 'ISSUED', applied: true }),
    ]);
    const after = await read(invoice.id);
    expect(after.creditNotes).toEqual([expect.objectContaining({ kind: 'REFUND', status: 'ISSUED' })]);
    expect(after.amountRefunded.amountMinor).toBe(30);
    expect(after.statusHistory.at(-1)).toMatchObject({ from: 'PAID', to: 'PAID', source: 'RECONCILIATION' });
    // Run again: nothing more to do.
    const again = await reconcile(deps, { period: '2024-01' });
    expect(again.changes.filter((c) => c.invoiceId === invoice.id)).toEqual([]);
  });

  /**
   * The platform hears of each refund once: `invoice.refunded` once per refund and `credit_note.created` once per note,
   * at a receiver verifying signatures, however Stripe orders the webhooks of a refund made in its Dashboard (a credit
   * note with a refund sends `credit_note.created` and `charge.refunded`; either may arrive first) and when ours come
   * back. The order is the test's: the local Stripe's deliveries are off while it acts, then its own events (read back
   * from its events API, as `webhooks recover` would) are posted to our route one by one, each applied before the next.
   */
  describe('announced to the platform once', () => {
    const receiver = new Receiver();
    let endpointId: string;

    beforeAll(async () => {
      await receiver.start();
      const res = await t.gql<
        { createWebhookEndpoint: { secret: string; endpoint: { id: string } } },
        Record<string, unknown>
      >(
        `mutation($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { id } } }`,
        { input: { url: receiver.url, eventTypes: ['invoice.refunded', 'credit_note.created'], ratePerSecond: 100 } },
        { token: admin },
      );
      receiver.secrets = [res.body.data!.createWebhookEndpoint.secret];
      endpointId = res.body.data!.createWebhookEndpoint.endpoint.id;
    });
    afterAll(() => receiver.stop());

    /** Runs `act` in Stripe with its webhooks off and returns the events it caused, oldest first. */
    const quietly = async (act: () => Promise<unknown>): Promise<Stripe.Event[]> => {
      await webhooksApplied();
      const before = new Set((await t.stripe.events.list({ limit: 100 })).data.map((e) => e.id));
      await t.control.setWebhookTarget(null);
      try {
        await act();
      } finally {
        await t.control.setWebhookTarget(`${t.url}/api/v1/webhooks/stripe`, TEST_WEBHOOK_SECRET);
      }
      return (await t.stripe.events.list({ limit: 100 })).data.filter((e) => !before.has(e.id)).reverse();
    };
    /** Stripe delivers these events in this order: each is applied before the next arrives. */
    const deliver = async (events: Stripe.Event[], types: string[]): Promise<void> => {
      for (const type of types) {
        const event = events.find((e) => e.type === type)!;
        expect((await postWebhook(t.url, event)).status).toBe(200);
        expect(await settled(t.database.db, event.id)).toMatchObject({ status: 'processed' });
      }
    };
    /** What the receiver accepted for the invoice, once every delivery queued for it is delivered. */
    const announced = async (invoiceId: string) => {
      await webhooksApplied();
      const res = await t.gql<{ webhookDeliveries: Array<{ orderingKey: string | null }> }, Record<string, unknown>>(
        `query($id: ID!) { webhookDeliveries(endpointId: $id, first: 500) { orderingKey } }`,
        { id: endpointId },
        { token: admin },
      );
      const queued = res.body.data!.webhookDeliveries.filter((d) => d.orderingKey === invoiceId).length;
      const mine = () => receiver.accepted.filter((m) => m.invoiceId === invoiceId);
      await waitForEvent(
        `${queued} messages for ${invoiceId}`,
        () => mine().length >= queued,
        receiver.changes.subscribe,
      );
      return mine();
    };
    const refundedMinor = (m: { data: Record<string, unknown> }) =>
      (m.data.invoice as { amountRefundedMinor: number }).amountRefundedMinor;

    it.each([
      ['charge.refunded', 'credit_note.created'],
      ['credit_note.created', 'charge.refunded'],
    ])('a Dashboard credit note with a refund, its webhooks in the order %s, %s', async (...order) => {
      const invoice = await paidInvoice(`u-announce-${order[0]}`);
      const quarter = Math.floor(invoice.totalMinor / 4);
      const events = await quietly(async () =>
        t.stripe.creditNotes.create({
          invoice: (await stripeInvoiceOf(invoice.id)).id,
          amount: quarter,
          refund_amount: quarter,
        }),
      );
      await deliver(events, order);

      const messages = await announced(invoice.id);
      expect(messages.map((m) => m.type).sort()).toEqual(['credit_note.created', 'invoice.refunded']);
      expect(messages.every((m) => m.verifiedBy.length === 1)).toBe(true);
      expect(refundedMinor(messages.find((m) => m.type === 'invoice.refunded')!)).toBe(quarter);
      const after = await read(invoice.id);
      expect(after.amountRefunded.amountMinor).toBe(quarter);
      expect(after.creditNotes).toHaveLength(1);
    });

    it('a plain refund on the charge, then a Dashboard note that names it: one invoice.refunded', async () => {
      const invoice = await paidInvoice('u-announce-plain');
      const quarter = Math.floor(invoice.totalMinor / 4);
      const charge = await chargeOf(invoice.id);
      let refundId = '';
      const events = await quietly(async () => {
        refundId = (await t.stripe.refunds.create({ charge: charge.id, amount: quarter })).id;
      });
      await deliver(events, ['charge.refunded']);
      // The note records the refund made before (`refunds[]`): no new money moves, so no second announcement.
      const later = await quietly(async () =>
        t.stripe.creditNotes.create({
          invoice: (await stripeInvoiceOf(invoice.id)).id,
          amount: quarter,
          refunds: [{ refund: refundId, amount_refunded: quarter }],
        }),
      );
      await deliver(later, ['credit_note.created']);

      const messages = await announced(invoice.id);
      expect(messages.map((m) => [m.type, m.data.creditNote === null])).toEqual([
        ['invoice.refunded', true],
        ['credit_note.created', false],
      ]);
      expect(messages.map(refundedMinor)).toEqual([quarter, quarter]);
      expect((await read(invoice.id)).amountRefunded.amountMinor).toBe(quarter);
    });

    it('our own refund stays one invoice.refunded when its charge.refunded and credit_note.created come back', async () => {
      const invoice = await paidInvoice('u-announce-ours');
      const half = Math.floor(invoice.totalMinor / 2);
      expect((await refund(invoice.id, half)).body.data!.refundInvoice.__typename).toBe('InvoiceCreditNote');
      const messages = await announced(invoice.id);
      expect(messages.map((m) => m.type)).toEqual(['credit_note.created', 'invoice.refunded']);
      expect(refundedMinor(messages[1])).toBe(half);
      const stripeEvents = (await t.stripe.events.list({ limit: 100 })).data;
      const charge = await chargeOf(invoice.id);
      expect(
        stripeEvents.some((e) => e.type === 'charge.refunded' && (e.data.object as { id: string }).id === charge.id),
      ).toBe(true);
      expect((await read(invoice.id)).amountRefunded.amountMinor).toBe(half);
    });
  });
});

import { startEmulator } from '../../emulator/server';
import { ManualClock } from '../helpers/clock';
import { openInvoice, rejection, stripeClient, useHarness } from './helpers';

const SECRET = 'whsec_resources';

const h = useHarness({ webhookSecret: SECRET });

async function deliveredTypes(objectId: string): Promise<string[]> {
  await h.control.waitForWebhooks();
  return h.receiver.received
    .map((r) => h.stripe.webhooks.constructEvent(r.body, String(r.headers['stripe-signature']), SECRET))
    .filter((e) => (e.data.object as { id: string }).id === objectId)
    .map((e) => e.type);
}

describe('events per transition (delivered and signed)', () => {
  it('void, uncollectible, send, delete and item creation each emit their event', async () => {
    const toVoid = await openInvoice(h.stripe, 100, 'usd', { collection_method: 'send_invoice', days_until_due: 5 });
    await h.stripe.invoices.sendInvoice(toVoid.id);
    await h.stripe.invoices.voidInvoice(toVoid.id);
    expect(await deliveredTypes(toVoid.id)).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.sent',
      // Stripe sends `invoice.updated` with every status change, beside the event that names it.
      'invoice.updated',
      'invoice.voided',
    ]);

    const bad = await openInvoice(h.stripe, 100);
    await h.stripe.invoices.markUncollectible(bad.id);
    expect((await deliveredTypes(bad.id)).at(-1)).toBe('invoice.marked_uncollectible');

    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    const item = await h.stripe.invoiceItems.create({ customer: customer.id, invoice: draft.id, amount: 5 });
    await h.stripe.invoices.del(draft.id);
    expect(await deliveredTypes(draft.id)).toEqual(['invoice.created', 'invoice.deleted']);
    expect(await deliveredTypes(item.id)).toEqual(['invoiceitem.created']);
    expect(await deliveredTypes(customer.id)).toEqual(['customer.created']);
  });
});

describe('invoice lines', () => {
  it('embeds 10 lines with has_more and lists all of them', async () => {
    const customer = await h.stripe.customers.create({});
    const draft = await h.stripe.invoices.create({ customer: customer.id });
    for (let i = 1; i <= 12; i++) {
      await h.stripe.invoiceItems.create({
        customer: customer.id,
        invoice: draft.id,
        amount: i,
        description: `line ${i}`,
      });
    }
    const inv = await h.stripe.invoices.retrieve(draft.id);
    expect(inv.lines.data).toHaveLength(10);
    expect(inv.lines.has_more).toBe(true);
    expect(inv.total).toBe(78);
    const all = await h.stripe.invoices.listLineItems(draft.id, { limit: 100 });
    expect(all.data.map((l) => l.amount)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const auto = await h.stripe.invoices.listLineItems(draft.id, { limit: 5 }).autoPagingToArray({ limit: 100 });
    expect(auto).toHaveLength(12);
  });
});

describe('lists', () => {
  it("pages one customer's invoices newest first among another's, with both cursors and the status filter", async () => {
    const [a, b] = await Promise.all([h.stripe.customers.create({}), h.stripe.customers.create({})]);
    const made: Record<string, string[]> = { [a.id]: [], [b.id]: [] };
    // Interleaved: the customer's invoices are not next to each other in the store.
    for (let i = 0; i < 5; i++) {
      for (const customer of [a, b]) {
        const inv = await h.stripe.invoices.create({ customer: customer.id, auto_advance: false });
        made[customer.id].push(inv.id);
      }
    }
    const newest = [...made[a.id]].reverse();
    const all = await h.stripe.invoices.list({ customer: a.id, limit: 2 }).autoPagingToArray({ limit: 100 });
    expect(all.map((i) => i.id)).toEqual(newest);

    const first = await h.stripe.invoices.list({ customer: a.id, limit: 2 });
    expect(first.data.map((i) => i.id)).toEqual(newest.slice(0, 2));
    expect(first.has_more).toBe(true);
    const last = await h.stripe.invoices.list({ customer: a.id, limit: 2, starting_after: newest[3] });
    expect(last.data.map((i) => i.id)).toEqual([newest[4]]);
    expect(last.has_more).toBe(false);
    const back = await h.stripe.invoices.list({ customer: a.id, limit: 2, ending_before: newest[3] });
    expect(back.data.map((i) => i.id)).toEqual(newest.slice(1, 3));
    expect(back.has_more).toBe(true);

    // A cursor that is not in this customer's list is unknown to it, as to Stripe.
    const foreign = await rejection(h.stripe.invoices.list({ customer: a.id, starting_after: made[b.id][0] }));
    expect(foreign.statusCode).toBe(404);
    expect(foreign.param).toBe('starting_after');

    // Nothing due: finalizing pays it at once.
    await h.stripe.invoices.finalizeInvoice(newest[2]);
    const paid = await h.stripe.invoices.list({ customer: a.id, status: 'paid' });
    expect(paid.data.map((i) => i.id)).toEqual([newest[2]]);
    expect(paid.has_more).toBe(false);
  });

  it('pages customers newest first from the newest end of a store of many', async () => {
    const created: string[] = [];
    for (let i = 0; i < 15; i++) {
      created.push((await h.stripe.customers.create({ email: `page-${i}@example.com` })).id);
    }
    const page = await h.stripe.customers.list({ limit: 10 });
    expect(page.data.map((c) => c.id)).toEqual([...created].reverse().slice(0, 10));
    expect(page.has_more).toBe(true);
    const byEmail = await h.stripe.customers.list({ email: 'page-3@example.com' });
    expect(byEmail.data.map((c) => c.id)).toEqual([created[3]]);
  });
});

describe('search and deletion', () => {
  it('searches customers by metadata and email, and invoices by customer and status', async () => {
    const a = await h.stripe.customers.create({ email: 'search-a@example.com', metadata: { userId: 'user-a' } });
    await h.stripe.customers.create({ email: 'search-b@example.com', metadata: { userId: 'user-b' } });
    const byMeta = await h.stripe.customers.search({ query: "metadata['userId']:'user-a'" });
    expect(byMeta.data.map((c) => c.id)).toEqual([a.id]);
    const both = await h.stripe.customers.search({ query: "email~'search-' AND metadata['userId']~'user'" });
    expect(both.data).toHaveLength(2);

    const inv = await openInvoice(h.stripe, 100);
    const found = await h.stripe.invoices.search({ query: `customer:'${inv.customer as string}' AND status:'open'` });
    expect(found.data.map((i) => i.id)).toEqual([inv.id]);
    const bad = await rejection(h.stripe.invoices.search({ query: 'nonsense' }));
    expect(bad.statusCode).toBe(400);
    expect(bad.param).toBe('query');
  });

  it('deleting a customer leaves a deleted stub', async () => {
    const c = await h.stripe.customers.create({});
    const del = await h.stripe.customers.del(c.id);
    expect(del).toMatchObject({ id: c.id, deleted: true });
    const again = await h.stripe.customers.retrieve(c.id);
    expect(again.deleted).toBe(true);
  });
});

describe('rate limit option', () => {
  it('startEmulator({ rateLimit }) limits requests per second', async () => {
    // The emulator's clock stands still: all six land in one second of its time, however slowly they are sent.
    const emu = await startEmulator({ rateLimit: 3, clock: new ManualClock() });
    try {
      const client = stripeClient(emu);
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => client.customers.list()));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    } finally {
      await emu.stop();
    }
  });
});

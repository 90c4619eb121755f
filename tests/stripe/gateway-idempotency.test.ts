import { invoicePayKey } from '../../src/stripe';
import type { StripeGatewayError } from '../../src/stripe';
import { type GatewayHarness, openInvoice, ourIds, paidPayments, startGatewayHarness } from './stripe-harness';

let h: GatewayHarness;

beforeAll(async () => {
  h = await startGatewayHarness();
});

afterAll(async () => {
  await h.stop();
});

async function customer(): Promise<{ stripeCustomerId: string; ids: ReturnType<typeof ourIds> }> {
  const ids = ourIds();
  const stripeCustomerId = await h.gateway.createCustomer({ customerId: ids.customerId, externalUserId: 'u1' });
  return { stripeCustomerId, ids };
}

const invoiceInput = (ids: ReturnType<typeof ourIds>, stripeCustomerId: string, description?: string) => ({
  invoiceId: ids.invoiceId,
  number: ids.number,
  stripeCustomerId,
  currency: 'USD',
  daysUntilDue: 14,
  period: '2026-10',
  ...(description ? { description } : {}),
});

describe('StripeGateway idempotency (emulator)', () => {
  it('returns the same Stripe invoice when createInvoice is repeated for our invoice', async () => {
    const { stripeCustomerId, ids } = await customer();
    const first = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const second = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    expect(second.id).toBe(first.id);
    // A retry after a crash with different parameters (reused key) still resolves to the first invoice.
    const changed = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId, 'changed'));
    expect(changed.id).toBe(first.id);
    const all = await h.stripe.invoices.list({ customer: stripeCustomerId });
    expect(all.data).toHaveLength(1);
  });

  it('adds one item when addInvoiceItem is repeated for the same line', async () => {
    const { stripeCustomerId, ids } = await customer();
    const draft = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const item = {
      invoiceId: ids.invoiceId,
      lineId: 'line-1',
      stripeCustomerId,
      stripeInvoiceId: draft.id,
      amountMinor: 999n,
      currency: 'usd',
      description: 'Agent minutes',
    };
    const a = await h.gateway.addInvoiceItem(item);
    const b = await h.gateway.addInvoiceItem(item);
    expect(b).toBe(a);
    const invoice = await h.gateway.retrieveInvoice(draft.id);
    expect(invoice.lines.data).toHaveLength(1);
    expect(invoice.total).toBe(999);
  });

  it('charges once when payInvoice is repeated with the same attempt', async () => {
    const open = await openInvoice(h.gateway);
    const input = {
      invoiceId: open.invoiceId,
      stripeInvoiceId: open.stripeInvoiceId,
      attempt: 1,
      paymentMethodId: 'pm_card_visa',
    };
    const [a, b] = await Promise.all([h.gateway.payInvoice(input), h.gateway.payInvoice(input)]);
    const c = await h.gateway.payInvoice(input);
    for (const result of [a, b, c]) {
      expect(result).toMatchObject({ outcome: 'paid' });
    }
    expect(await paidPayments(h.stripe, open.stripeInvoiceId)).toBe(1);
    const keys = h.requests.filter((r) => r.path.endsWith(`${open.stripeInvoiceId}/pay`)).map((r) => r.idempotencyKey);
    expect(new Set(keys)).toEqual(new Set([invoicePayKey(open.invoiceId, 1)]));
  });

  it('reports an already paid invoice as paid on a new attempt (lost response)', async () => {
    const open = await openInvoice(h.gateway);
    const pay = (attempt: number) =>
      h.gateway.payInvoice({
        invoiceId: open.invoiceId,
        stripeInvoiceId: open.stripeInvoiceId,
        attempt,
        paymentMethodId: 'pm_card_visa',
      });
    await pay(1);
    expect(await pay(2)).toMatchObject({ outcome: 'paid', invoice: { status: 'paid' } });
    expect(await paidPayments(h.stripe, open.stripeInvoiceId)).toBe(1);
  });

  it('finds an invoice that was created but never recorded', async () => {
    const { stripeCustomerId, ids } = await customer();
    const other = ourIds();
    await h.gateway.createInvoice(invoiceInput(other, stripeCustomerId));
    const created = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const found = await h.gateway.findInvoiceByOurId(ids.invoiceId, stripeCustomerId);
    expect(found?.id).toBe(created.id);
    expect(await h.gateway.findInvoiceByOurId('inv_never', stripeCustomerId)).toBeNull();
  });

  it('voids an open invoice (twice is fine) and refuses to pay it', async () => {
    const open = await openInvoice(h.gateway);
    const voided = await h.gateway.voidInvoice(open.invoiceId, open.stripeInvoiceId);
    expect(voided.status).toBe('void');
    expect((await h.gateway.voidInvoice(open.invoiceId, open.stripeInvoiceId)).status).toBe('void');
    const result = await h.gateway.payInvoice({
      invoiceId: open.invoiceId,
      stripeInvoiceId: open.stripeInvoiceId,
      attempt: 1,
      paymentMethodId: 'pm_card_visa',
    });
    expect(result).toMatchObject({ outcome: 'invalid_state', invoice: { status: 'void' } });
  });

  it('deletes a draft (twice is fine); voiding a draft is invalid_state', async () => {
    const { stripeCustomerId, ids } = await customer();
    const draft = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const error = await h.gateway.voidInvoice(ids.invoiceId, draft.id).catch((e: unknown) => e);
    expect((error as StripeGatewayError).failure.kind).toBe('invalid_state');
    await h.gateway.deleteDraftInvoice(draft.id);
    await h.gateway.deleteDraftInvoice(draft.id);
    const missing = await h.gateway.retrieveInvoice(draft.id).catch((e: unknown) => e);
    expect((missing as StripeGatewayError).failure.kind).toBe('not_found');
  });

  // Runs last: it moves the emulator clock 25 h forward so every idempotency key expires.
  it('stays idempotent after Stripe forgets the keys (24 h)', async () => {
    const { stripeCustomerId, ids } = await customer();
    const draft = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const line = { invoiceId: ids.invoiceId, lineId: 'l1', stripeCustomerId, stripeInvoiceId: draft.id };
    await h.gateway.addInvoiceItem({ ...line, amountMinor: 700n, currency: 'usd', description: 'Usage' });
    await h.gateway.finalizeInvoice(ids.invoiceId, draft.id);
    await h.control.advanceClock(25 * 3600);
    expect((await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId))).id).toBe(draft.id);
    expect((await h.gateway.finalizeInvoice(ids.invoiceId, draft.id)).status).toBe('open');
  });
});

import { TotalMismatchError, invoicePayKey } from '../../src/stripe';
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
    expect((await h.stripe.invoices.retrieve(draft.id)).lines.data).toHaveLength(1);
    expect((await h.gateway.retrieveInvoice(draft.id)).totalMinor).toBe(999n);
  });

  it('charges once when payInvoice is repeated with the same attempt', async () => {
    const open = await openInvoice(h.gateway);
    const input = {
      invoiceId: open.invoiceId,
      stripeInvoiceId: open.stripeInvoiceId,
      expected: open.expected,
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
        expected: open.expected,
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
      expected: open.expected,
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

  it('never finalizes, sends or pays a Stripe invoice whose total is not ours', async () => {
    const { stripeCustomerId, ids } = await customer();
    const draft = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const item = { invoiceId: ids.invoiceId, stripeCustomerId, stripeInvoiceId: draft.id, currency: 'usd' };
    await h.gateway.addInvoiceItem({ ...item, lineId: 'l1', amountMinor: 530n, description: 'Usage' });
    const stray = await h.gateway.addInvoiceItem({ ...item, lineId: 'l9', amountMinor: 480n, description: 'Stray' });
    const ours = { totalMinor: 530n, currency: 'USD' };

    const refused = await h.gateway.finalizeInvoice(ids.invoiceId, draft.id, ours).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TotalMismatchError);
    expect((refused as TotalMismatchError).mismatch).toMatchObject({
      stripeStatus: 'draft',
      stripeTotalMinor: 1010n,
      ourTotalMinor: 530n,
    });
    expect((await h.gateway.retrieveInvoice(draft.id)).status).toBe('draft');

    // Once the stray item is gone the draft totals ours and is finalized.
    await h.gateway.deleteInvoiceItem(stray);
    await h.gateway.deleteInvoiceItem(stray);
    expect((await h.gateway.finalizeInvoice(ids.invoiceId, draft.id, ours)).totalMinor).toBe(530n);

    // An open invoice that totals something else is neither e-mailed nor paid.
    const other = { totalMinor: 999n, currency: 'USD' };
    await expect(h.gateway.sendInvoice(ids.invoiceId, draft.id, other)).rejects.toBeInstanceOf(TotalMismatchError);
    const paying = { invoiceId: ids.invoiceId, stripeInvoiceId: draft.id, paymentMethodId: 'pm_card_visa' };
    expect(await h.gateway.payInvoice({ ...paying, attempt: 1, expected: other })).toMatchObject({
      outcome: 'total_mismatch',
      mismatch: { stripeStatus: 'open', stripeTotalMinor: 530n, ourTotalMinor: 999n },
    });
    expect(await paidPayments(h.stripe, draft.id)).toBe(0);
    expect(await h.gateway.payInvoice({ ...paying, attempt: 2, expected: ours })).toMatchObject({ outcome: 'paid' });
  });

  // Runs last: it moves the emulator clock 25 h forward so every idempotency key expires.
  it('stays idempotent after Stripe forgets the keys (24 h)', async () => {
    const { stripeCustomerId, ids } = await customer();
    const draft = await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId));
    const line = { invoiceId: ids.invoiceId, lineId: 'l1', stripeCustomerId, stripeInvoiceId: draft.id };
    await h.gateway.addInvoiceItem({ ...line, amountMinor: 700n, currency: 'usd', description: 'Usage' });
    const expected = { totalMinor: 700n, currency: 'USD' };
    await h.gateway.finalizeInvoice(ids.invoiceId, draft.id, expected);
    await h.control.advanceClock(25 * 3600);
    expect((await h.gateway.createInvoice(invoiceInput(ids, stripeCustomerId))).id).toBe(draft.id);
    expect((await h.gateway.finalizeInvoice(ids.invoiceId, draft.id, expected)).status).toBe('open');
    // The customer, the items and the e-mail are found again from Stripe's own records, whatever the keys.
    const ours = ids.customerId;
    expect(await h.gateway.findCustomerByOurId(ours)).toBe(stripeCustomerId);
    expect(await h.gateway.findCustomerByOurId('no-such-customer')).toBeNull();
    expect(await h.gateway.listInvoiceItems(draft.id)).toEqual([
      expect.objectContaining({ invoiceId: ids.invoiceId, lineId: 'l1', amountMinor: 700n, currency: 'usd' }),
    ]);
    const since = new Date(Date.now() - 60_000);
    expect(await h.gateway.invoiceSentAt(draft.id, since)).toBeNull();
    await h.gateway.sendInvoice(ids.invoiceId, draft.id, expected);
    expect(await h.gateway.invoiceSentAt(draft.id, since)).toEqual(expect.any(Date));
  });
});

import type Stripe from 'stripe';
import { openInvoice, useHarness } from './helpers';

const h = useHarness({ accountName: 'AgentHub Test' });

function payForm(url: string, card: string, path = '/pay'): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ card_number: card, exp: '12/34', cvc: '123', name: 'Ada' }).toString(),
  });
}

async function typesFor(invoiceId: string): Promise<string[]> {
  const events = await h.stripe.events.list({ limit: 100, type: 'invoice.*' });
  return events.data
    .filter((e) => (e.data.object as Stripe.Invoice).id === invoiceId)
    .map((e) => e.type)
    .reverse();
}

describe('hosted invoice page', () => {
  it('shows the invoice: company, lines, amount, due date, status, and a card form', async () => {
    const inv = await openInvoice(h.stripe, 12345, 'usd', { collection_method: 'send_invoice', days_until_due: 14 });
    const res = await fetch(inv.hosted_invoice_url ?? '');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('AgentHub Test');
    expect(html).toContain(inv.number ?? 'missing');
    expect(html).toContain('Usage');
    expect(html).toContain('$123.45');
    expect(html).toContain(new Date((inv.due_date ?? 0) * 1000).toISOString().slice(0, 10));
    expect(html).toContain('name="card_number"');
    const pdf = await fetch(inv.invoice_pdf ?? '');
    expect(pdf.headers.get('content-type')).toContain('application/pdf');
    expect((await pdf.text()).startsWith('%PDF-1.4')).toBe(true);
  });

  it('4242 4242 4242 4242 pays the invoice and emits the same events as the API', async () => {
    const inv = await openInvoice(h.stripe, 700);
    const res = await payForm(inv.hosted_invoice_url ?? '', '4242 4242 4242 4242');
    expect(res.status).toBe(303);
    const after = await h.stripe.invoices.retrieve(inv.id);
    expect(after).toMatchObject({ status: 'paid', amount_paid: 700, attempt_count: 1 });
    expect(await typesFor(inv.id)).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
    ]);
    const page = await (await fetch(`${inv.hosted_invoice_url}`)).text();
    expect(page).toContain('data-testid="status">paid');
  });

  it('4000 0000 0000 0002 is declined: the invoice stays open', async () => {
    const inv = await openInvoice(h.stripe, 700);
    const res = await payForm(inv.hosted_invoice_url ?? '', '4000000000000002');
    expect(res.status).toBe(303);
    const page = await (await fetch(new URL(res.headers.get('location') ?? '', inv.hosted_invoice_url ?? ''))).text();
    expect(page).toContain('Your card was declined.');
    const after = await h.stripe.invoices.retrieve(inv.id);
    expect(after).toMatchObject({ status: 'open', attempt_count: 1 });
    expect(await typesFor(inv.id)).toContain('invoice.payment_failed');
  });

  it('4000 0025 0000 3155 goes through a 3-D Secure challenge (approve)', async () => {
    const inv = await openInvoice(h.stripe, 700);
    const res = await payForm(inv.hosted_invoice_url ?? '', '4000002500003155');
    expect(res.status).toBe(303);
    const challengeUrl = new URL(res.headers.get('location') ?? '', inv.hosted_invoice_url ?? '').toString();
    expect(challengeUrl).toMatch(/\/3ds$/);
    const challenge = await (await fetch(challengeUrl)).text();
    expect(challenge).toContain('Complete authentication');
    expect((await h.stripe.invoices.retrieve(inv.id)).status).toBe('open');
    const done = await fetch(challengeUrl, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'result=approve',
    });
    expect(done.status).toBe(303);
    expect((await h.stripe.invoices.retrieve(inv.id)).status).toBe('paid');
    expect(await typesFor(inv.id)).toEqual([
      'invoice.created',
      'invoice.finalized',
      'invoice.payment_action_required',
      'invoice.updated',
      'invoice.updated',
      'invoice.paid',
      'invoice.payment_succeeded',
    ]);
  });

  it('3-D Secure can be failed', async () => {
    const inv = await openInvoice(h.stripe, 700);
    await payForm(inv.hosted_invoice_url ?? '', '4000002500003155');
    const res = await fetch(`${inv.hosted_invoice_url}/3ds`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'result=fail',
    });
    expect(res.status).toBe(303);
    expect((await h.stripe.invoices.retrieve(inv.id)).status).toBe('open');
    expect((await typesFor(inv.id)).at(-1)).toBe('invoice.payment_failed');
  });

  it('accepts only the test card numbers', async () => {
    const inv = await openInvoice(h.stripe, 700);
    const res = await payForm(inv.hosted_invoice_url ?? '', '4111111111111111');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('not a valid test card');
    expect((await h.stripe.invoices.retrieve(inv.id)).attempt_count).toBe(0);
  });

  it('answers 404 for an unknown invoice page', async () => {
    const res = await fetch(`${h.emulator.url}/i/test_unknown`);
    expect(res.status).toBe(404);
  });
});

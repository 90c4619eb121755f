import type Stripe from 'stripe';
import { Invoice } from '../../src/entities';
import { Role } from '../../src/entities/enums';
import type { CreditNoteCheck } from '../../src/services/credit-notes/credit-note-resumer';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import {
  CreateCreditNoteDocument,
  CreateInvoiceDocument,
  InvoiceCreditNotesDocument,
  PayInvoiceDocument,
  RefundInvoiceDocument,
} from '../generated/graphql';
import { ManualClock } from '../helpers/clock';
import { operator } from '../helpers/fixtures';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';
import { waitForEvent } from '../helpers/wait';

const RESUME_SECONDS = 30;

/**
 * A refund or credit whose Stripe call failed (the local Stripe answers 500 to every try) stays PENDING and holds its
 * amount on the invoice. Nobody retries it here: the server's own resumer, on its clock, makes it in Stripe with the
 * note's key once Stripe answers again, or releases it when Stripe refuses it. The test moves the clock and waits for
 * the resumer's checks as events.
 */
describe('pending credit notes are resumed by the server, not only at reconciliation', () => {
  let t: TestServer;
  let admin: string;
  const clock = new ManualClock();
  const checks: CreditNoteCheck[] = [];

  beforeAll(async () => {
    t = await startTestServer({ CREDIT_NOTE_RESUME_SECONDS: String(RESUME_SECONDS) }, { clock });
    t.server.creditNotes.onCheck((check) => checks.push(check));
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
    admin = await t.token('admin-1', Role.ADMIN);
  });
  afterAll(() => t.close());

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
  const read = async (id: string) => {
    const res = await t.gql(InvoiceCreditNotesDocument, { id }, { token: admin });
    expect(res.body.errors).toBeUndefined();
    return res.body.data!.invoice;
  };
  const stripeInvoiceOf = async (invoiceId: string): Promise<Stripe.Invoice> => {
    const row = await t.database.db.orm.em.fork().findOneOrFail(Invoice, invoiceId);
    return t.stripe.invoices.retrieve(row.stripeInvoiceId!, { expand: ['payments.data.payment.payment_intent'] });
  };
  /** Stripe refuses every credit note (the SDK's own retries included) until the returned function is called. */
  const stripeDownForCreditNotes = async (): Promise<() => Promise<void>> => {
    const rule = await t.control.injectFault({ kind: '500', method: 'POST', path: '^/v1/credit_notes$' });
    return async () => {
      await t.control.removeFault(rule.id);
    };
  };
  /** Moves the clock one resume interval and resolves with the resumer's check at that time. */
  const nextResume = async (): Promise<CreditNoteCheck> => {
    const at = clock.now() + RESUME_SECONDS * 1000;
    clock.advance(RESUME_SECONDS * 1000);
    const ran = (): CreditNoteCheck | undefined => checks.find((c) => c.at.getTime() === at);
    await waitForEvent(
      'the resumer’s check',
      () => ran() !== undefined,
      (wake) => t.server.creditNotes.onCheck(wake),
    );
    return ran()!;
  };

  it('a refund asked while Stripe was down is made once Stripe answers, with its own key, once', async () => {
    const invoice = await openInvoice('u-resume-refund');
    const paid = await t.gql(
      PayInvoiceDocument,
      { invoiceId: invoice.id, paymentMethodId: 'pm_card_visa' },
      { token: await t.token('u-resume-refund') },
    );
    expect(paid.body.data?.payInvoice).toMatchObject({ status: 'PAID' });

    const restore = await stripeDownForCreditNotes();
    const refund = await t.gql(
      RefundInvoiceDocument,
      { invoiceId: invoice.id, amountMinor: 40, reason: 'Outage', idempotencyKey: 'resume-refund-1' },
      { token: admin },
    );
    expect(refund.body.data!.refundInvoice).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE' });
    // Reserved while pending: a concurrent refund cannot take it.
    expect(await read(invoice.id)).toMatchObject({
      amountRefunded: { amountMinor: 40 },
      creditNotes: [{ status: 'PENDING' }],
    });
    // Still down at the next check: still pending, still reserved.
    expect((await nextResume()).notes).toEqual([
      expect.objectContaining({ invoiceId: invoice.id, outcome: 'pending' }),
    ]);

    await restore();
    expect((await nextResume()).notes).toEqual([expect.objectContaining({ invoiceId: invoice.id, outcome: 'issued' })]);
    const after = await read(invoice.id);
    expect(after).toMatchObject({ amountRefunded: { amountMinor: 40 }, creditNotes: [{ status: 'ISSUED' }] });
    // One history entry for it, by the resumer or by Stripe's credit_note.created webhook, whichever came first.
    const entries = after.statusHistory.filter((h) => h.from === 'PAID' && h.to === 'PAID');
    expect(entries).toEqual([expect.objectContaining({ reason: expect.stringContaining('Refunded $0.40') })]);
    expect(['SYSTEM', 'WEBHOOK']).toContain(entries[0].source);
    const stripeInvoice = await stripeInvoiceOf(invoice.id);
    expect((await t.stripe.creditNotes.list({ invoice: stripeInvoice.id })).data).toHaveLength(1);
    const intent = stripeInvoice.payments!.data[0].payment.payment_intent as Stripe.PaymentIntent;
    expect((await t.stripe.charges.retrieve(intent.latest_charge as string)).amount_refunded).toBe(40);

    // The client's retry with its key answers the note the resumer made; the next check has nothing to do.
    const retry = await t.gql(
      RefundInvoiceDocument,
      { invoiceId: invoice.id, amountMinor: 40, reason: 'Outage', idempotencyKey: 'resume-refund-1' },
      { token: admin },
    );
    expect(retry.body.data!.refundInvoice).toMatchObject({ __typename: 'InvoiceCreditNote' });
    expect((await nextResume()).notes).toEqual([]);
  });

  it('a credit Stripe refuses once it answers (the invoice was voided meanwhile) is released: nothing stays reserved', async () => {
    const invoice = await openInvoice('u-resume-void');
    const restore = await stripeDownForCreditNotes();
    const credit = await t.gql(
      CreateCreditNoteDocument,
      { invoiceId: invoice.id, amountMinor: 50, idempotencyKey: 'resume-credit-1' },
      { token: admin },
    );
    expect(credit.body.data!.createCreditNote).toMatchObject({ code: 'PAYMENT_PROVIDER_UNAVAILABLE' });
    expect((await read(invoice.id)).amountCredited.amountMinor).toBe(50);
    // Meanwhile the invoice is voided in the Stripe Dashboard: Stripe will refuse a credit note on it.
    await t.stripe.invoices.voidInvoice((await stripeInvoiceOf(invoice.id)).id);
    await restore();

    expect((await nextResume()).notes).toEqual([
      expect.objectContaining({ invoiceId: invoice.id, outcome: 'released' }),
    ]);
    expect(await read(invoice.id)).toMatchObject({
      amountCredited: { amountMinor: 0 },
      creditNotes: [{ status: 'FAILED' }],
    });
    expect((await t.stripe.creditNotes.list({ invoice: (await stripeInvoiceOf(invoice.id)).id })).data).toEqual([]);
  });
});

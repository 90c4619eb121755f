import { Role } from '../src/entities/enums';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import { CreateInvoiceDocument, InvoiceDocument, UsageSummaryDocument } from './generated/graphql';
import { operator } from './helpers/fixtures';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';
import { waitFor } from './webhooks/fixtures';

describe('an invoice voided in Stripe (dashboard), not through our API', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await seedDefaultCatalogue(t.database.db.orm.em.fork());
  });
  afterAll(() => t.close());

  it('turns VOID by webhook and its usage can be invoiced again, preview and invoice agreeing', async () => {
    const op = await operator(t);
    await op.record([
      { userId: 'void-1', metric: 'llm_input_tokens', quantity: '1234567', occurredAt: '2024-01-15T10:00:00Z' },
    ]);
    const admin = await t.token('ops', Role.ADMIN);
    const first = (await t.gql(CreateInvoiceDocument, { period: '2024-01', userId: 'void-1' }, { token: admin })).body
      .data!.createInvoice;
    if (first.__typename !== 'Invoice') {
      throw new Error(`expected an invoice, got ${JSON.stringify(first)}`);
    }
    const remote = (await t.stripe.invoices.list({ limit: 100 })).data.find(
      (i) => i.metadata?.agenthub_invoice_id === first.id,
    );
    await t.stripe.invoices.voidInvoice(remote!.id);

    // Only Stripe's invoice.voided webhook can tell us.
    await waitFor(
      async () =>
        (await t.gql(InvoiceDocument, { id: first.id }, { token: admin })).body.data!.invoice.status === 'VOID',
      undefined,
      'the invoice.voided webhook to void the invoice',
    );

    const preview = (await t.gql(UsageSummaryDocument, { period: '2024-01', userId: 'void-1' }, { token: admin })).body
      .data!.usageSummary;
    const second = (await t.gql(CreateInvoiceDocument, { period: '2024-01', userId: 'void-1' }, { token: admin })).body
      .data!.createInvoice;
    expect(second.__typename).toBe('Invoice');
    if (second.__typename === 'Invoice') {
      expect(second.id).not.toBe(first.id);
      expect(second.amount.amountMinor).toBe(first.amount.amountMinor);
      expect(preview.subtotal.amountMinor).toBe(second.amount.amountMinor);
    }
  });
});

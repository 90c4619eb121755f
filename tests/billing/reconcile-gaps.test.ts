import { cancelInvoice } from '../../src/services/cancel-invoice.service';
import { createInvoice } from '../../src/services/create-invoice.service';
import { reconcile } from '../../src/services/reconcile-invoices.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import type { BillingHarness } from './helpers';
import { SERVICE, afterPeriod, billingHarness } from './helpers';

describe('reconciliation gaps', () => {
  let h: BillingHarness;
  beforeAll(async () => {
    h = await billingHarness();
  });
  afterAll(() => h.close());

  const invoiceDeps = (period: string, gateway = h.gateway) => ({
    em: h.em.fork(),
    gateway,
    config: h.t.config,
    now: afterPeriod(period),
  });
  const create = async (period: string, userId: string, gateway = h.gateway) => {
    await h.usage(period, [userId]);
    return createInvoice(invoiceDeps(period, gateway), SERVICE, { period, userId });
  };
  /** The deps of a reconciliation run whose clock reads `now`. */
  const at = (now: Date) => ({ ...h.deps('2024-01'), now: () => now });

  it('counts a cancelled DRAFT whose Stripe draft was deleted as consistent, not as an error', async () => {
    const period = '2024-11';
    await h.t.control.injectFault({ kind: '500', path: '^/v1/invoices/[^/]+/finalize', method: 'POST' });
    const stuck = await create(period, 'deleted-draft', gatewayFromConfig(h.t.config, { maxNetworkRetries: 0 }));
    await h.t.control.clearFaults();
    expect(stuck).toMatchObject({ kind: 'stripe_unavailable', invoice: { status: 'DRAFT' } });
    if (stuck.kind !== 'stripe_unavailable') {
      return;
    }
    const stripeId = stuck.invoice.stripeInvoiceId as string;
    expect(await cancelInvoice(invoiceDeps(period), SERVICE, { invoiceId: stuck.invoice.id })).toMatchObject({
      kind: 'voided',
    });
    await expect(h.t.stripe.invoices.retrieve(stripeId)).rejects.toMatchObject({ statusCode: 404 });

    for (const dryRun of [true, false]) {
      const report = await reconcile(at(new Date()), { period, dryRun });
      expect(report).toMatchObject({ checked: 1, changes: [], warnings: [], errors: [] });
    }
  });
});

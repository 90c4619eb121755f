import type { EntityManager } from '@mikro-orm/postgresql';
import { Role } from '../../src/entities/enums';
import type { BillingRunDeps } from '../../src/services/billing-runs/billing-run.service';
import { recordUsage } from '../../src/services/usage/record-usage.service';
import { seedDefaultCatalogue } from '../../src/services/usage/seed-catalogue.service';
import { gatewayFromConfig } from '../../src/stripe/gateway-from-config';
import type { StripeGateway } from '../../src/stripe';
import { clockStartingAt } from '../helpers/clock';
import type { TestServer } from '../helpers/server';
import { startTestServer } from '../helpers/server';

export const SERVICE = { userId: 'platform', role: Role.SERVICE };

/** The first day of the month after `period`, at `hour` UTC: the scheduler's "month ended + grace" moment. */
export function afterPeriod(period: string, hour = 1): Date {
  const [y, m] = period.split('-').map(Number);
  return new Date(Date.UTC(y, m, 1, hour));
}

export interface BillingHarness {
  t: TestServer;
  em: EntityManager;
  gateway: StripeGateway;
  /** Deps whose clock starts at `afterPeriod(period)` and runs at real speed (waits are real, and short). */
  deps(period: string, gateway?: StripeGateway): BillingRunDeps;
  /** One usage event per user in the middle of `period` (1,234,567 input tokens = $2.47). */
  usage(period: string, userIds: string[]): Promise<void>;
  invoiceCount(period: string, userIds?: string[]): Promise<number>;
  /** How many Stripe invoices carry each of our invoice ids (metadata `agenthub_invoice_id`). */
  stripeInvoiceCounts(): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export async function billingHarness(env: Record<string, string> = {}): Promise<BillingHarness> {
  const t = await startTestServer(env);
  const em = t.database.db.orm.em.fork();
  await seedDefaultCatalogue(em.fork());
  const gateway = gatewayFromConfig(t.config);
  let seq = 0;
  return {
    t,
    em,
    gateway,
    deps: (period, gw = gateway) => ({
      em: t.database.db.orm.em,
      gateway: gw,
      config: t.config,
      clock: clockStartingAt(afterPeriod(period)),
    }),
    async usage(period, userIds) {
      const result = await recordUsage(
        em.fork(),
        SERVICE,
        userIds.map((userId) => ({
          userId,
          metric: 'llm_input_tokens',
          quantity: '1234567',
          occurredAt: `${period}-15T10:00:00Z`,
          idempotencyKey: `billing-test-${(seq += 1)}`,
        })),
      );
      expect(result.rejected).toEqual([]);
    },
    async invoiceCount(period, userIds) {
      const rows = await em.fork().execute<Array<{ n: number }>>(
        `select count(*)::int as n from invoices i join customers c on c.id = i.customer_id
         where i.period = ? and i.status <> 'VOID' ${userIds ? `and c.external_user_id in (${userIds.map(() => '?').join(', ')})` : ''}`,
        [period, ...(userIds ?? [])],
      );
      return Number(rows[0].n);
    },
    async stripeInvoiceCounts() {
      const all = await t.stripe.invoices.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
      const counts = new Map<string, number>();
      for (const invoice of all) {
        const id = invoice.metadata?.agenthub_invoice_id;
        if (id) {
          counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      }
      return counts;
    },
    close: () => t.close(),
  };
}

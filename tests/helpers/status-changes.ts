import { Invoice } from '../../src/entities';
import { InvoiceStatus, StatusChangeSource } from '../../src/entities/enums';
import type { Database } from '../../src/entities/orm';
import { transitionInvoice } from '../../src/services/invoicing/invoice-status';

let periods = 0;

/**
 * An OPEN invoice written straight into the database, for suites about hearing its status changes. Each gets its own
 * period (months from 2000-01 on, counted per test file), so a user may hold several without meeting the
 * one-invoice-per-period rule.
 */
export async function seedInvoice(db: Database, user: string, totalMinor = '300'): Promise<string> {
  const index = periods++;
  const period = `${2000 + Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
  const em = db.orm.em.fork();
  const [{ id: customerId }] = await em.execute<Array<{ id: string }>>(
    `insert into customers (id, external_user_id) values (gen_random_uuid(), ?)
     on conflict (external_user_id) do update set external_user_id = excluded.external_user_id returning id`,
    [user],
  );
  const [{ id }] = await em.execute<Array<{ id: string }>>(
    `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency, total_minor,
                           subtotal_minor)
     values (gen_random_uuid(), 'T-' || gen_random_uuid(), ?, ?, '2024-01-01', '2024-02-01', 'OPEN', 'usd', ?, ?)
     returning id`,
    [customerId, period, totalMinor, totalMinor],
  );
  return id;
}

/** One committed change, through the one transition function: OPEN/PAYMENT_FAILED ↔ PROCESSING, forever. */
export async function change(db: Database, invoiceId: string, reason: string): Promise<InvoiceStatus> {
  return db.orm.em.fork().transactional(async (em) => {
    const invoice = await em.findOneOrFail(Invoice, invoiceId);
    const to = invoice.status === InvoiceStatus.PROCESSING ? InvoiceStatus.PAYMENT_FAILED : InvoiceStatus.PROCESSING;
    await transitionInvoice(em, invoice, to, { source: StatusChangeSource.API, reason });
    return to;
  });
}

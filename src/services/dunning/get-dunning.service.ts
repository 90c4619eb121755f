import type { EntityManager } from '@mikro-orm/postgresql';
import { DunningState, InvoiceStatus, Role } from '../../entities/enums';
import { parsePeriod } from '../billing-runs/billing-period';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import type { InvoiceRecord } from '../invoicing/invoice-read-model';
import { readInvoices } from '../invoicing/invoice-read.repository';

/** Where an invoice is in dunning, as readers see it. */
export interface InvoiceDunning {
  invoiceId: string;
  /** Steps done (0 before the first). */
  step: number;
  state: DunningState;
  startedAt: Date;
  nextAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  lastOutcome: string | null;
}

interface Row {
  invoice_id: string;
  invoice_status: InvoiceStatus;
  state: DunningState;
  step: number;
  started_at: Date | string;
  next_attempt_at: Date | string | null;
  last_attempt_at: Date | string | null;
  last_outcome: string | null;
}

const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));

/**
 * A paid, voided or uncollectible invoice has left dunning the moment its status changed, before any instance has
 * recorded it (the next check does): its state is read from the invoice then.
 */
function toDunning(row: Row): InvoiceDunning {
  let state = row.state;
  if (state === DunningState.ACTIVE && row.invoice_status === InvoiceStatus.PAID) {
    state = DunningState.RECOVERED;
  } else if (
    state === DunningState.ACTIVE &&
    (row.invoice_status === InvoiceStatus.VOID || row.invoice_status === InvoiceStatus.UNCOLLECTIBLE)
  ) {
    state = DunningState.CANCELED;
  }
  return {
    invoiceId: row.invoice_id,
    step: Number(row.step),
    state,
    startedAt: new Date(row.started_at),
    nextAttemptAt: state === DunningState.ACTIVE ? date(row.next_attempt_at) : null,
    lastAttemptAt: date(row.last_attempt_at),
    lastOutcome: row.last_outcome,
  };
}

const SELECT = `select s.invoice_id, i.status as invoice_status, s.state, s.step, s.started_at, s.next_attempt_at,
    s.last_attempt_at, s.last_outcome
  from dunning_schedules s join invoices i on i.id = s.invoice_id`;

/** The dunning of invoices the caller may already read (the invoice query checked access); by invoice id. */
export async function dunningOfInvoices(em: EntityManager, invoiceIds: string[]): Promise<Map<string, InvoiceDunning>> {
  if (invoiceIds.length === 0) {
    return new Map();
  }
  const rows = await em.execute<Row[]>(`${SELECT} where s.invoice_id in (${invoiceIds.map(() => '?').join(', ')})`, [
    ...invoiceIds,
  ]);
  return new Map(rows.map((row) => [row.invoice_id, toDunning(row)]));
}

/**
 * Admins and the platform: every invoice of a period that is or was in dunning, next step first, with the invoice
 * (two statements whatever their number).
 */
export async function listDunning(
  em: EntityManager,
  caller: Caller,
  period: string,
): Promise<Array<{ invoice: InvoiceRecord; dunning: InvoiceDunning }>> {
  requireRole(caller, Role.ADMIN, Role.SERVICE);
  const { key } = parsePeriod(period);
  const rows = await em.execute<Row[]>(
    `${SELECT} where i.period = ? order by s.next_attempt_at nulls last, s.started_at, s.invoice_id limit 1000`,
    [key],
  );
  const invoices = await readInvoices(
    em,
    rows.map((row) => row.invoice_id),
  );
  return rows.flatMap((row) => {
    const invoice = invoices.get(row.invoice_id);
    return invoice ? [{ invoice, dunning: toDunning(row) }] : [];
  });
}

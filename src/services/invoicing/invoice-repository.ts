import type { EntityManager } from '@mikro-orm/postgresql';
import type { Invoice } from '../../entities';
import { rowWrittenAt } from '../../entities/base.entity';
import { InvoiceStatus } from '../../entities/enums';
import { sqlText } from '../shared/sql-values';
import { UNBILLED_BUCKET } from '../../entities/usage-rollup.entity';
import { numberedPlaceholders, pooledQuery } from '../../entities/pooled-query';

/**
 * SQL of the invoice aggregate (`invoices`, `invoice_number_sequences`) that the ORM's finders do not express.
 * Statuses come from `InvoiceStatus`; every statement runs through the manager it is given (inside a transaction,
 * its `tem`: PGlite has one connection). The invoice read path (`get-invoices.service.ts`) uses the ORM.
 */

const VOID = sqlText(InvoiceStatus.VOID);

/** The next number of the prefix's sequence for a period (1 for its first invoice); part of the caller's transaction. */
export async function nextInvoiceSequence(tem: EntityManager, prefix: string, periodKey: string): Promise<number> {
  const [{ last_value: sequence }] = await tem.execute<Array<{ last_value: number }>>(
    `insert into invoice_number_sequences (prefix, period, last_value) values (?, ?, 1)
     on conflict (prefix, period) do update set last_value = invoice_number_sequences.last_value + 1
     returning last_value`,
    [prefix, periodKey],
  );
  return sequence;
}

/**
 * Earlier periods of the customer (an SQL expression), invoiced (not VOID) and ended by the bound instant, that hold
 * usage in the bound bucket (a rollup bucket: an invoice id, or `UNBILLED_BUCKET`), other than on the bound invoice id.
 * The day rollups' buckets say where a period's usage is billed (usage-rollup.entity.ts).
 */
const latePeriodsSql = (customer: string): string =>
  `select distinct i.period from invoices i
   where i.customer_id = ${customer} and i.status <> ${VOID} and i.period_end <= ? and i.id <> ?
     and exists (select 1 from usage_rollups r
                 where r.customer_id = i.customer_id and r.bucket = ?
                   and r.day >= (i.period_start at time zone 'UTC')::date
                   and r.day < (i.period_end at time zone 'UTC')::date)`;

/**
 * Earlier periods of the customer, invoiced (not VOID) and ended by `before`, that hold usage not on their invoice:
 * usage on `invoiceId` when given (the lines of that invoice), otherwise usage on no invoice (a preview). Oldest first.
 */
export async function latePeriodsOf(
  em: EntityManager,
  customerId: string,
  before: Date,
  invoiceId?: string,
): Promise<string[]> {
  const rows = await em.execute<Array<{ period: string }>>(`${latePeriodsSql('?')} order by i.period`, [
    customerId,
    before,
    invoiceId ?? UNBILLED_BUCKET,
    invoiceId ?? UNBILLED_BUCKET,
  ]);
  return rows.map((row) => row.period.trim());
}

/** A user's customer as the preview of a period starts from it (`previewStanding`). */
export interface PreviewStanding {
  customerId: string;
  /** The customer's billing currency; null means the configured default. */
  currency: string | null;
  /** The period's invoice (not VOID; the latest), whose lines the preview shows instead, if any. */
  invoice: { id: string; currency: string } | null;
  /** What `latePeriodsOf` answers for a preview of the period: the earlier periods whose late usage it carries. */
  latePeriods: string[];
}

/**
 * The customer of a user (its external user id) as a preview of `period` needs it, in one statement instead of one
 * per question (the preview is read often: a dashboard's cost so far), prepared; null when the user has no customer.
 * Outside transactions (`pooledQuery`).
 */
export async function previewStanding(
  em: EntityManager,
  externalUserId: string,
  period: { key: string; start: Date },
): Promise<PreviewStanding | null> {
  const [row] = await pooledQuery<{
    id: string;
    currency: string | null;
    invoice_id: string | null;
    invoice_currency: string | null;
    late_periods: string[] | string;
  }>(
    em,
    numberedPlaceholders(`select c.id, c.currency, v.id as invoice_id, v.currency as invoice_currency,
            (select coalesce(json_agg(trim(l.period) order by l.period), '[]'::json)
             from (${latePeriodsSql('c.id')}) l) as late_periods
     from customers c
     left join lateral (
       select i.id, i.currency from invoices i
       where i.customer_id = c.id and i.period = ? and i.status <> ${VOID}
       order by i.created_at desc
       limit 1
     ) v on true
     where c.external_user_id = ?`),
    [period.start, UNBILLED_BUCKET, UNBILLED_BUCKET, period.key, externalUserId],
    'preview-standing',
  );
  if (!row) {
    return null;
  }
  return {
    customerId: row.id,
    currency: row.currency,
    invoice: row.invoice_id ? { id: row.invoice_id, currency: row.invoice_currency! } : null,
    latePeriods: typeof row.late_periods === 'string' ? (JSON.parse(row.late_periods) as string[]) : row.late_periods,
  };
}

/**
 * The end of the last period invoiced (not VOID) in `currency` with a line of `metricId`, for one customer or for
 * anyone (`customerId` null); null when there is none.
 */
export async function lastInvoicedPeriodEnd(
  em: EntityManager,
  scope: { currency: string; customerId: string | null; metricId: string },
): Promise<Date | null> {
  const { currency, customerId, metricId } = scope;
  const [row] = await em.execute<Array<{ until: Date | string | null }>>(
    `select max(i.period_end) as until from invoices i
     where i.status <> ${VOID} and i.currency = ? ${customerId ? 'and i.customer_id = ?' : ''}
       and exists (select 1 from invoice_lines l where l.invoice_id = i.id and l.metric_id = ?)`,
    customerId ? [currency, customerId, metricId] : [currency, metricId],
  );
  return row?.until ? new Date(row.until) : null;
}

/** Of the given Stripe invoice ids and our invoice ids, those that name an invoice of ours (both ids of each). */
export async function knownInvoiceIds(em: EntityManager, stripeIds: string[], ourIds: string[]): Promise<Set<string>> {
  const known = await em.execute<Array<{ id: string; stripe_invoice_id: string | null }>>(
    `select id::text as id, stripe_invoice_id from invoices
     where stripe_invoice_id in (${stripeIds.map(() => '?').join(', ')})
        or id::text in (${ourIds.map(() => '?').join(', ')})`,
    [...stripeIds, ...ourIds],
  );
  return new Set(known.flatMap((k) => [k.id, k.stripe_invoice_id].filter((id): id is string => id !== null)));
}

/**
 * What of an invoice a status change or a Stripe event reads and writes (`InvoiceState`), with its column and how it
 * is kept: the one list the set-based reader and writer below are built from. `totalMinor`, `amountCreditedMinor`
 * and `amountRefundedMinor` are read only (no event of the batch path changes them).
 */
const STATE_COLUMNS = {
  id: { column: 'id', kind: 'id' },
  status: { column: 'status', kind: 'status' },
  stripeInvoiceId: { column: 'stripe_invoice_id', kind: 'text' },
  totalMinor: { column: 'total_minor', kind: 'money', readOnly: true },
  amountCreditedMinor: { column: 'amount_credited_minor', kind: 'money', readOnly: true },
  amountRefundedMinor: { column: 'amount_refunded_minor', kind: 'money', readOnly: true },
  amountPaidMinor: { column: 'amount_paid_minor', kind: 'money' },
  dueDate: { column: 'due_date', kind: 'time' },
  paymentUrl: { column: 'payment_url', kind: 'text' },
  pdfUrl: { column: 'pdf_url', kind: 'text' },
  finalizedAt: { column: 'finalized_at', kind: 'time' },
  sentAt: { column: 'sent_at', kind: 'time' },
  paidAt: { column: 'paid_at', kind: 'time' },
  voidedAt: { column: 'voided_at', kind: 'time' },
  voidReason: { column: 'void_reason', kind: 'text' },
  lastPaymentErrorCode: { column: 'last_payment_error_code', kind: 'text' },
  lastPaymentErrorDeclineCode: { column: 'last_payment_error_decline_code', kind: 'text' },
  lastPaymentErrorMessage: { column: 'last_payment_error_message', kind: 'text' },
  lastPaymentErrorAt: { column: 'last_payment_error_at', kind: 'time' },
  lastStripeEventAt: { column: 'last_stripe_event_at', kind: 'time' },
  lastStripeEventId: { column: 'last_stripe_event_id', kind: 'text' },
  stripeAttemptCount: { column: 'stripe_attempt_count', kind: 'integer' },
} as const satisfies Record<
  string,
  { column: string; kind: 'id' | 'status' | 'text' | 'money' | 'time' | 'integer'; readOnly?: true }
>;

/** The fields of an invoice that status changes and Stripe events read and write: the entity has them all. */
export type InvoiceState = Pick<Invoice, keyof typeof STATE_COLUMNS>;

type StateField = keyof typeof STATE_COLUMNS;
const FIELDS = Object.keys(STATE_COLUMNS) as StateField[];
const WRITTEN = FIELDS.filter((field) => field !== 'id' && !('readOnly' in STATE_COLUMNS[field]));

/** An invoice's state read without the ORM, with its row version (`xmin`) and the values as read. */
export interface LockedInvoiceState {
  state: InvoiceState;
  version: string;
  read: InvoiceState;
}

function fromRow(row: Record<string, unknown>): InvoiceState {
  const state: Record<string, unknown> = {};
  for (const field of FIELDS) {
    const value = row[STATE_COLUMNS[field].column];
    const kind = STATE_COLUMNS[field].kind;
    state[field] =
      value === null || value === undefined
        ? null
        : kind === 'money'
          ? BigInt(value as string)
          : kind === 'time'
            ? new Date(value as string | Date)
            : kind === 'integer'
              ? Number(value)
              : value;
  }
  return state as unknown as InvoiceState;
}

const same = (a: unknown, b: unknown): boolean =>
  a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;

/** Whether anything written of `locked.state` differs from what was read. */
export function stateChanged(locked: LockedInvoiceState): boolean {
  return WRITTEN.some((field) => !same(locked.state[field], locked.read[field]));
}

/**
 * Reads and locks (`for update skip locked`: a row another transaction holds is left out) the invoices with these
 * Stripe ids, in one statement and without hydrating entities: what the webhook worker's batch changes in memory and
 * writes back with `writeInvoiceStates`.
 */
export async function lockInvoiceStates(
  em: EntityManager,
  stripeInvoiceIds: readonly string[],
): Promise<LockedInvoiceState[]> {
  const rows = await em.execute<Array<Record<string, unknown>>>(
    `select ${FIELDS.map((field) => STATE_COLUMNS[field].column).join(', ')}, xmin::text as row_version
     from invoices where stripe_invoice_id in (select jsonb_array_elements_text(?::jsonb))
     order by id for update skip locked`,
    [JSON.stringify(stripeInvoiceIds)],
  );
  return rows.map((row) => ({ state: fromRow(row), read: fromRow(row), version: String(row.row_version) }));
}

/**
 * Writes the changed fields of these invoices in one statement (`update … from jsonb_to_recordset`), each only if its
 * row is still the version and status that was read (an optimistic guard: the rows are locked, so a mismatch means
 * something in this transaction wrote them meanwhile). Returns how many rows the guard let through: fewer than given
 * means nothing may be trusted (the caller rolls its savepoint back). `updated_at` is stamped as the ORM stamps it.
 */
export async function writeInvoiceStates(em: EntityManager, invoices: readonly LockedInvoiceState[]): Promise<number> {
  if (invoices.length === 0) {
    return 0;
  }
  const rows = invoices.map(({ state, read, version }) => {
    const row: Record<string, unknown> = { id: state.id, version, read_status: read.status };
    for (const field of WRITTEN) {
      const value = state[field];
      row[STATE_COLUMNS[field].column] =
        value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? value.toString() : (value ?? null);
    }
    return row;
  });
  const type = (field: StateField): string =>
    ({ id: 'uuid', status: 'invoice_status', text: 'text', money: 'bigint', time: 'timestamptz', integer: 'integer' })[
      STATE_COLUMNS[field].kind
    ];
  const result = await em.execute<{ affectedRows: number }>(
    `update invoices i set ${WRITTEN.map((f) => `${STATE_COLUMNS[f].column} = v.${STATE_COLUMNS[f].column}`).join(', ')},
       updated_at = ?
     from jsonb_to_recordset(?::jsonb) as v(id uuid, version text, read_status invoice_status,
       ${WRITTEN.map((f) => `${STATE_COLUMNS[f].column} ${type(f)}`).join(', ')})
     where i.id = v.id and i.xmin::text = v.version and i.status = v.read_status`,
    [rowWrittenAt(), JSON.stringify(rows)],
    'run',
  );
  return result.affectedRows;
}

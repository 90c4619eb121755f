import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { InvoiceStatus, StatusChangeSource } from './enums';
import { Invoice } from './invoice.entity';

/** History of every status change: what it was, what it became, who or what caused it, and when. */
@Entity({ tableName: 'invoice_status_changes' })
@Index({ properties: ['invoice', 'occurredAt'] })
export class InvoiceStatusChange {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne(() => Invoice, { deleteRule: 'cascade' })
  invoice!: Invoice;

  @Enum({ items: () => InvoiceStatus, nativeEnumName: 'invoice_status', nullable: true })
  fromStatus?: InvoiceStatus | null;

  @Enum({ items: () => InvoiceStatus, nativeEnumName: 'invoice_status' })
  toStatus!: InvoiceStatus;

  @Enum({ items: () => StatusChangeSource, nativeEnumName: 'status_change_source' })
  source!: StatusChangeSource;

  /** The caller's user id, the Stripe event id, the billing run id… */
  @Property({ type: 'text', nullable: true })
  sourceRef?: string | null;

  @Property({ type: 'text', nullable: true })
  reason?: string | null;

  @Property({ type: 'timestamptz', defaultRaw: 'now()' })
  occurredAt: Date = new Date();
}

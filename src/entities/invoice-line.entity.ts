import { BigIntType, Entity, Enum, Index, ManyToOne, Property } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillableMetric } from './billable-metric.entity';
import { InvoiceLineKind } from './enums';
import { Invoice } from './invoice.entity';
import { Price } from './price.entity';

/** One line of an invoice; its amount is rounded once, half-up, to minor units. */
@Entity({ tableName: 'invoice_lines' })
@Index({ properties: ['invoice', 'position'] })
export class InvoiceLine extends BaseEntity<'kind'> {
  @ManyToOne(() => Invoice, { deleteRule: 'cascade' })
  invoice!: Invoice;

  @Property({ type: 'integer' })
  position!: number;

  @Enum({ items: () => InvoiceLineKind, nativeEnumName: 'invoice_line_kind' })
  kind: InvoiceLineKind = InvoiceLineKind.USAGE;

  @ManyToOne(() => BillableMetric, { nullable: true, deleteRule: 'restrict' })
  metric?: BillableMetric | null;

  @ManyToOne(() => Price, { nullable: true, deleteRule: 'set null' })
  price?: Price | null;

  @Property({ type: 'text' })
  description!: string;

  @Property({ type: 'decimal', precision: 30, scale: 12 })
  quantity!: string;

  /** Effective unit price in major units (decimal string), for display. */
  @Property({ type: 'decimal', precision: 30, scale: 12, nullable: true })
  unitAmount?: string | null;

  @Property({ type: new BigIntType('bigint') })
  amountMinor!: bigint;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: 'text', nullable: true })
  stripeInvoiceItemId?: string | null;

  @Property({ type: 'json', nullable: true })
  metadata?: Record<string, unknown> | null;
}

import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * Last invoice sequence number handed out per prefix and period. Allocation is one atomic
 * `INSERT … ON CONFLICT DO UPDATE … RETURNING`, so concurrent invoices never share a number.
 */
@Entity({ tableName: 'invoice_number_sequences' })
export class InvoiceNumberSequence {
  @PrimaryKey({ type: 'text' })
  prefix!: string;

  @PrimaryKey({ type: 'character', length: 7 })
  period!: string;

  @Property({ type: 'integer', default: 0 })
  lastValue: number = 0;
}

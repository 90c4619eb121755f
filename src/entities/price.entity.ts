import { Entity, Enum, Index, ManyToOne, Property } from '@mikro-orm/core';
import { BaseEntity } from './base.entity';
import { BillableMetric } from './billable-metric.entity';
import { Customer } from './customer.entity';
import { PriceModel } from './enums';

/** One tier of a graduated or volume price; decimals are strings so no float touches money. */
export interface PriceTier {
  /** Inclusive upper bound of the tier in metric units; null for the last, open-ended tier. */
  upTo: string | null;
  /** Price per unit in major currency units, as a decimal string (e.g. "0.000002"). */
  unitAmount: string;
  /** Flat fee for entering the tier, decimal string in major units. */
  flatAmount?: string;
}

/**
 * A price of one metric in one currency, effective over `[effectiveFrom, effectiveTo)`. A change is a new row
 * closing the previous one, so history is kept. `customer` set means a per-customer override.
 */
@Entity({ tableName: 'prices' })
@Index({ properties: ['metric', 'currency', 'customer', 'effectiveFrom'] })
export class Price extends BaseEntity {
  @ManyToOne(() => BillableMetric, { deleteRule: 'restrict' })
  metric!: BillableMetric;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @ManyToOne(() => Customer, { nullable: true, deleteRule: 'cascade' })
  customer?: Customer | null;

  @Enum({ items: () => PriceModel, nativeEnumName: 'price_model' })
  model: PriceModel = PriceModel.PER_UNIT;

  /** Per-unit or per-package price in major units (decimal string); unused for tiered models. */
  @Property({ type: 'decimal', precision: 30, scale: 12, nullable: true })
  unitAmount?: string | null;

  /** Units per package for the `package` model. */
  @Property({ type: 'decimal', precision: 30, scale: 12, nullable: true })
  packageSize?: string | null;

  @Property({ type: 'json', nullable: true })
  tiers?: PriceTier[] | null;

  /** Units per period that are free before the price applies. */
  @Property({ type: 'decimal', precision: 30, scale: 12, default: '0' })
  freeAllowance: string = '0';

  @Property({ type: 'timestamptz' })
  effectiveFrom!: Date;

  @Property({ type: 'timestamptz', nullable: true })
  effectiveTo?: Date | null;

  /** Who made the change (user id of the admin), for the price history. */
  @Property({ type: 'text', nullable: true })
  createdBy?: string | null;
}

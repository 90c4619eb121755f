import { Migration } from '@mikro-orm/migrations';

export class Migration20261206040000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "usage_rollups" ("customer_id" uuid not null, "metric_id" uuid not null, "day" date not null, "bucket" uuid not null, "events" bigint not null, "quantity_sum" numeric(30,12) not null, "quantity_max" numeric(30,12) not null, "first_at" timestamptz not null, constraint "usage_rollups_pkey" primary key ("customer_id", "metric_id", "day", "bucket"))`);
    // Built from the events already stored; from here on every write to usage_records keeps it in step.
    this.addSql(`insert into "usage_rollups" ("customer_id", "metric_id", "day", "bucket", "events", "quantity_sum", "quantity_max", "first_at")
      select customer_id, metric_id, (occurred_at at time zone 'UTC')::date,
             coalesce(billed_on_invoice_id, '00000000-0000-0000-0000-000000000000'),
             count(*), sum(quantity), max(quantity), min(occurred_at)
      from usage_records group by 1, 2, 3, 4`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table "usage_rollups"`);
  }
}

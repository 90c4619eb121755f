import { Migration } from '@mikro-orm/migrations';

/**
 * Billing marks ranges of events, not each event: `usage_billing_claims` says which invoice billed which ids of a
 * customer's events in one period, and `usage_records.billed_on_invoice_id` (one write per event on every invoice)
 * goes away. The claims of the events already stored are their runs (in id order, per customer and month) of one
 * invoice.
 */
export class Migration20261206061000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "usage_billing_claims" ("customer_id" uuid not null, "period_start" timestamptz not null, "period_end" timestamptz not null, "first_id" bigint not null, "last_id" bigint not null, "invoice_id" uuid not null, constraint "usage_billing_claims_pkey" primary key ("customer_id", "period_start", "first_id"))`);
    this.addSql(`create index "usage_billing_claims_invoice_id_index" on "usage_billing_claims" ("invoice_id")`);
    this.addSql(`alter table "usage_billing_claims" add constraint "usage_billing_claims_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
    this.addSql(`insert into "usage_billing_claims" ("customer_id", "period_start", "period_end", "first_id", "last_id", "invoice_id")
      select customer_id, month at time zone 'UTC', (month + interval '1 month') at time zone 'UTC',
             min(id), max(id), billed_on_invoice_id
      from (select id, customer_id, billed_on_invoice_id, month,
                   row_number() over (partition by customer_id, month order by id)
                   - row_number() over (partition by customer_id, month, billed_on_invoice_id order by id) as run
            from (select id, customer_id, billed_on_invoice_id,
                         date_trunc('month', occurred_at at time zone 'UTC') as month
                  from usage_records) r) e
      where billed_on_invoice_id is not null
      group by customer_id, month, billed_on_invoice_id, run`);
    this.addSql(`alter table "usage_records" drop column "billed_on_invoice_id"`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "usage_records" add column "billed_on_invoice_id" uuid null`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_billed_on_invoice_id_foreign" foreign key ("billed_on_invoice_id") references "invoices" ("id") on update cascade on delete set null`);
    this.addSql(`create index "usage_records_billed_on_invoice_id_index" on "usage_records" ("billed_on_invoice_id")`);
    this.addSql(`update "usage_records" ur set "billed_on_invoice_id" = c."invoice_id" from "usage_billing_claims" c
      where c."customer_id" = ur."customer_id" and ur."occurred_at" >= c."period_start" and ur."occurred_at" < c."period_end"
        and ur."id" between c."first_id" and c."last_id"`);
    this.addSql(`drop table "usage_billing_claims"`);
  }
}

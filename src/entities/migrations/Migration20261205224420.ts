import { Migration } from '@mikro-orm/migrations';

export class Migration20261205224420 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "payment_limit_scope" as enum ('INVOICE', 'USER')`);
    this.addSql(`create table "payment_limit_lifts" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "scope" "payment_limit_scope" not null, "customer_id" uuid not null, "invoice_id" uuid null, "lifted_by" text not null, "reason" text null, "lifted_at" timestamptz not null, constraint "payment_limit_lifts_pkey" primary key ("id"))`);
    this.addSql(`create index "payment_limit_lifts_customer_id_lifted_at_index" on "payment_limit_lifts" ("customer_id", "lifted_at")`);
    this.addSql(`alter table "payment_limit_lifts" add constraint "payment_limit_lifts_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "payment_limit_lifts" add constraint "payment_limit_lifts_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "payment_limit_lifts" cascade`);
    this.addSql(`drop type "payment_limit_scope"`);
  }
}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261126074914 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "billing_run_status" as enum ('running', 'completed')`);
    this.addSql(`create type "billing_run_item_status" as enum ('pending', 'processing', 'done', 'failed', 'skipped')`);
    this.addSql(`create table "billing_runs" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "period" char(7) not null, "status" "billing_run_status" not null default 'running', "trigger" text not null default 'api', "total" int not null default 0, "done" int not null default 0, "failed" int not null default 0, "skipped" int not null default 0, "started_at" timestamptz not null default now(), "heartbeat_at" timestamptz not null default now(), "finished_at" timestamptz null, constraint "billing_runs_pkey" primary key ("id"))`);
    this.addSql(`alter table "billing_runs" add constraint "billing_runs_period_unique" unique ("period")`);
    this.addSql(`create table "billing_run_items" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "run_id" uuid not null, "customer_id" uuid not null, "status" "billing_run_item_status" not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null default now(), "lease_until" timestamptz null, "error" text null, "invoice_id" uuid null, constraint "billing_run_items_pkey" primary key ("id"))`);
    this.addSql(`create index "billing_run_items_run_id_status_next_attempt_at_index" on "billing_run_items" ("run_id", "status", "next_attempt_at")`);
    this.addSql(`alter table "billing_run_items" add constraint "billing_run_items_run_id_customer_id_unique" unique ("run_id", "customer_id")`);
    this.addSql(`alter table "billing_run_items" add constraint "billing_run_items_run_id_foreign" foreign key ("run_id") references "billing_runs" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "billing_run_items" add constraint "billing_run_items_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "billing_run_items" add constraint "billing_run_items_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete set null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "billing_run_items" drop constraint "billing_run_items_run_id_foreign"`);
    this.addSql(`drop table if exists "billing_runs" cascade`);
    this.addSql(`drop table if exists "billing_run_items" cascade`);
    this.addSql(`drop type "billing_run_status"`);
    this.addSql(`drop type "billing_run_item_status"`);
  }
}

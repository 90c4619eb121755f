import { Migration } from '@mikro-orm/migrations';

export class Migration20261206032501 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "dunning_state" as enum ('ACTIVE', 'RECOVERED', 'CANCELED', 'EXHAUSTED')`);
    this.addSql(`create table "dunning_schedules" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "invoice_id" uuid not null, "state" "dunning_state" not null default 'ACTIVE', "started_at" timestamptz not null, "step" int not null default 0, "next_attempt_at" timestamptz null, "last_attempt_at" timestamptz null, "last_outcome" text null, "reminded_step" int not null default 0, "lease_until" timestamptz null, "leased_by" text null, "ended_at" timestamptz null, constraint "dunning_schedules_pkey" primary key ("id"))`);
    this.addSql(`create index "dunning_schedules_state_next_attempt_at_index" on "dunning_schedules" ("state", "next_attempt_at")`);
    this.addSql(`alter table "dunning_schedules" add constraint "dunning_schedules_invoice_id_unique" unique ("invoice_id")`);
    this.addSql(`alter table "dunning_schedules" add constraint "dunning_schedules_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "payment_attempts" add column "dunning_step" int null`);
    this.addSql(`alter table "payment_attempts" add constraint "payment_attempts_invoice_id_dunning_step_unique" unique ("invoice_id", "dunning_step")`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "dunning_schedules" cascade`);
    this.addSql(`alter table "payment_attempts" drop constraint "payment_attempts_invoice_id_dunning_step_unique"`);
    this.addSql(`alter table "payment_attempts" drop column "dunning_step"`);
    this.addSql(`drop type "dunning_state"`);
  }
}

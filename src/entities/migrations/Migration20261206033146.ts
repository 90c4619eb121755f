import { Migration } from '@mikro-orm/migrations';

export class Migration20261206033146 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "credit_note_kind" as enum ('REFUND', 'CREDIT')`);
    this.addSql(`create type "credit_note_status" as enum ('PENDING', 'ISSUED', 'FAILED', 'VOID')`);
    this.addSql(`create table "credit_notes" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "number" text not null, "invoice_id" uuid not null, "kind" "credit_note_kind" not null, "status" "credit_note_status" not null default 'PENDING', "amount_minor" bigint not null, "refunded_minor" bigint not null default 0, "currency" char(3) not null, "reason" text null, "lines" jsonb not null, "request_key" text null, "stripe_credit_note_id" text null, "stripe_refund_id" text null, "source" "status_change_source" not null, "source_ref" text null, constraint "credit_notes_pkey" primary key ("id"), constraint credit_notes_amount_positive check (amount_minor > 0))`);
    this.addSql(`alter table "credit_notes" add constraint "credit_notes_number_unique" unique ("number")`);
    this.addSql(`create index "credit_notes_invoice_id_index" on "credit_notes" ("invoice_id")`);
    this.addSql(`alter table "credit_notes" add constraint "credit_notes_stripe_credit_note_id_unique" unique ("stripe_credit_note_id")`);
    this.addSql(`alter table "credit_notes" add constraint "credit_notes_invoice_id_request_key_unique" unique ("invoice_id", "request_key")`);
    this.addSql(`alter table "credit_notes" add constraint "credit_notes_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "invoices" add column "amount_refunded_minor" bigint not null default 0, add column "amount_credited_minor" bigint not null default 0`);
    this.addSql(`alter table "invoices" add constraint invoices_credited_within_total check(amount_credited_minor >= 0 and amount_credited_minor <= total_minor)`);
    this.addSql(`alter table "invoices" add constraint invoices_refunded_within_paid check(amount_refunded_minor >= 0 and amount_refunded_minor <= amount_paid_minor)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "credit_notes" cascade`);
    this.addSql(`alter table "invoices" drop constraint invoices_credited_within_total`);
    this.addSql(`alter table "invoices" drop constraint invoices_refunded_within_paid`);
    this.addSql(`alter table "invoices" drop column "amount_refunded_minor", drop column "amount_credited_minor"`);
    this.addSql(`drop type "credit_note_kind"`);
    this.addSql(`drop type "credit_note_status"`);
  }
}

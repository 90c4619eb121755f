import { Migration } from '@mikro-orm/migrations';

export class Migration20261126065146 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "metric_aggregation" as enum ('sum', 'count', 'max', 'unique_count')`);
    this.addSql(`create type "invoice_status" as enum ('DRAFT', 'OPEN', 'PROCESSING', 'REQUIRES_ACTION', 'PAYMENT_FAILED', 'PAID', 'VOID', 'UNCOLLECTIBLE')`);
    this.addSql(`create type "status_change_source" as enum ('API', 'WEBHOOK', 'RECONCILIATION', 'BILLING_RUN', 'SYSTEM')`);
    this.addSql(`create type "payment_attempt_status" as enum ('pending', 'succeeded', 'declined', 'requires_action', 'unknown')`);
    this.addSql(`create type "price_model" as enum ('per_unit', 'graduated', 'volume', 'package')`);
    this.addSql(`create type "invoice_line_kind" as enum ('usage', 'adjustment')`);
    this.addSql(`create type "webhook_event_status" as enum ('pending', 'processing', 'processed', 'ignored', 'failed')`);
    this.addSql(`create table "billable_metrics" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "code" text not null, "name" text not null, "unit" text not null, "aggregation" "metric_aggregation" not null default 'sum', "unique_field" text null, "description" text null, "active" boolean not null default true, constraint "billable_metrics_pkey" primary key ("id"))`);
    this.addSql(`alter table "billable_metrics" add constraint "billable_metrics_code_unique" unique ("code")`);
    this.addSql(`create table "customers" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "external_user_id" text not null, "email" text null, "name" text null, "stripe_customer_id" text null, "currency" char(3) null, constraint "customers_pkey" primary key ("id"))`);
    this.addSql(`alter table "customers" add constraint "customers_external_user_id_unique" unique ("external_user_id")`);
    this.addSql(`alter table "customers" add constraint "customers_stripe_customer_id_unique" unique ("stripe_customer_id")`);
    this.addSql(`create table "invoices" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "number" text not null, "customer_id" uuid not null, "period" char(7) not null, "period_start" timestamptz not null, "period_end" timestamptz not null, "status" "invoice_status" not null default 'DRAFT', "currency" char(3) not null, "subtotal_minor" bigint not null default 0, "tax_minor" bigint not null default 0, "total_minor" bigint not null default 0, "amount_paid_minor" bigint not null default 0, "due_date" timestamptz null, "stripe_invoice_id" text null, "stripe_customer_id" text null, "payment_url" text null, "pdf_url" text null, "void_reason" text null, "finalized_at" timestamptz null, "sent_at" timestamptz null, "paid_at" timestamptz null, "voided_at" timestamptz null, "last_stripe_event_at" timestamptz null, "last_stripe_event_id" text null, constraint "invoices_pkey" primary key ("id"))`);
    this.addSql(`alter table "invoices" add constraint "invoices_number_unique" unique ("number")`);
    this.addSql(`alter table "invoices" add constraint "invoices_stripe_invoice_id_unique" unique ("stripe_invoice_id")`);
    this.addSql(`create index "invoices_status_created_at_index" on "invoices" ("status", "created_at")`);
    this.addSql(`create unique index "invoices_customer_period_active_unique" on "invoices" ("customer_id", "period") where "status" <> 'VOID'`);
    this.addSql(`create table "invoice_number_sequences" ("prefix" text not null, "period" char(7) not null, "last_value" int not null default 0, constraint "invoice_number_sequences_pkey" primary key ("prefix", "period"))`);
    this.addSql(`create table "invoice_status_changes" ("id" bigserial primary key, "invoice_id" uuid not null, "from_status" "invoice_status" null, "to_status" "invoice_status" not null, "source" "status_change_source" not null, "source_ref" text null, "reason" text null, "occurred_at" timestamptz not null default now())`);
    this.addSql(`create index "invoice_status_changes_invoice_id_occurred_at_index" on "invoice_status_changes" ("invoice_id", "occurred_at")`);
    this.addSql(`create table "payment_attempts" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "invoice_id" uuid not null, "attempt_number" int not null, "payment_method_id" text not null, "status" "payment_attempt_status" not null default 'pending', "idempotency_key" text not null, "amount_minor" bigint not null, "currency" char(3) not null, "error_code" text null, "decline_code" text null, "error_message" text null, "requested_by" text null, "completed_at" timestamptz null, constraint "payment_attempts_pkey" primary key ("id"))`);
    this.addSql(`alter table "payment_attempts" add constraint "payment_attempts_invoice_id_attempt_number_unique" unique ("invoice_id", "attempt_number")`);
    this.addSql(`create table "prices" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "metric_id" uuid not null, "currency" char(3) not null, "customer_id" uuid null, "model" "price_model" not null default 'per_unit', "unit_amount" numeric(30,12) null, "package_size" numeric(30,12) null, "tiers" jsonb null, "free_allowance" numeric(30,12) not null default '0', "effective_from" timestamptz not null, "effective_to" timestamptz null, "created_by" text null, constraint "prices_pkey" primary key ("id"))`);
    this.addSql(`create index "prices_metric_id_currency_customer_id_effective_from_index" on "prices" ("metric_id", "currency", "customer_id", "effective_from")`);
    this.addSql(`create table "invoice_lines" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "invoice_id" uuid not null, "position" int not null, "kind" "invoice_line_kind" not null default 'usage', "metric_id" uuid null, "price_id" uuid null, "description" text not null, "quantity" numeric(30,12) not null, "unit_amount" numeric(30,12) null, "amount_minor" bigint not null, "currency" char(3) not null, "stripe_invoice_item_id" text null, "metadata" jsonb null, constraint "invoice_lines_pkey" primary key ("id"))`);
    this.addSql(`create index "invoice_lines_invoice_id_position_index" on "invoice_lines" ("invoice_id", "position")`);
    this.addSql(`create table "stripe_subscriptions" ("id" text not null, "customer_id" uuid null, "stripe_customer_id" text not null, "status" text not null, "current_period_start" timestamptz null, "current_period_end" timestamptz null, "cancel_at_period_end" boolean not null default false, "canceled_at" timestamptz null, "items" jsonb null, "metadata" jsonb null, "last_event_at" timestamptz null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), constraint "stripe_subscriptions_pkey" primary key ("id"))`);
    this.addSql(`create index "stripe_subscriptions_stripe_customer_id_index" on "stripe_subscriptions" ("stripe_customer_id")`);
    this.addSql(`create table "usage_records" ("id" bigserial primary key, "customer_id" uuid not null, "metric_id" uuid not null, "quantity" numeric(30,12) not null, "occurred_at" timestamptz not null, "idempotency_key" text not null, "agent_id" text null, "metadata" jsonb null, "received_at" timestamptz not null default now(), "carried_to_invoice_id" uuid null)`);
    this.addSql(`create index "usage_records_customer_id_occurred_at_index" on "usage_records" ("customer_id", "occurred_at")`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_customer_id_idempotency_key_unique" unique ("customer_id", "idempotency_key")`);
    this.addSql(`create table "webhook_events" ("id" text not null, "type" text not null, "api_version" text null, "livemode" boolean not null default false, "object_id" text null, "payload" jsonb not null, "status" "webhook_event_status" not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null default now(), "last_error" text null, "stripe_created_at" timestamptz not null, "received_at" timestamptz not null default now(), "processed_at" timestamptz null, constraint "webhook_events_pkey" primary key ("id"))`);
    this.addSql(`create index "webhook_events_type_received_at_index" on "webhook_events" ("type", "received_at")`);
    this.addSql(`create index "webhook_events_status_next_attempt_at_index" on "webhook_events" ("status", "next_attempt_at")`);
    this.addSql(`alter table "invoices" add constraint "invoices_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "invoice_status_changes" add constraint "invoice_status_changes_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "payment_attempts" add constraint "payment_attempts_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "prices" add constraint "prices_metric_id_foreign" foreign key ("metric_id") references "billable_metrics" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "prices" add constraint "prices_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "invoice_lines" add constraint "invoice_lines_invoice_id_foreign" foreign key ("invoice_id") references "invoices" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "invoice_lines" add constraint "invoice_lines_metric_id_foreign" foreign key ("metric_id") references "billable_metrics" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "invoice_lines" add constraint "invoice_lines_price_id_foreign" foreign key ("price_id") references "prices" ("id") on update cascade on delete set null`);
    this.addSql(`alter table "stripe_subscriptions" add constraint "stripe_subscriptions_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete set null`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_metric_id_foreign" foreign key ("metric_id") references "billable_metrics" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_carried_to_invoice_id_foreign" foreign key ("carried_to_invoice_id") references "invoices" ("id") on update cascade on delete set null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "prices" drop constraint "prices_metric_id_foreign"`);
    this.addSql(`alter table "invoice_lines" drop constraint "invoice_lines_metric_id_foreign"`);
    this.addSql(`alter table "usage_records" drop constraint "usage_records_metric_id_foreign"`);
    this.addSql(`alter table "invoices" drop constraint "invoices_customer_id_foreign"`);
    this.addSql(`alter table "prices" drop constraint "prices_customer_id_foreign"`);
    this.addSql(`alter table "stripe_subscriptions" drop constraint "stripe_subscriptions_customer_id_foreign"`);
    this.addSql(`alter table "usage_records" drop constraint "usage_records_customer_id_foreign"`);
    this.addSql(`alter table "invoice_status_changes" drop constraint "invoice_status_changes_invoice_id_foreign"`);
    this.addSql(`alter table "payment_attempts" drop constraint "payment_attempts_invoice_id_foreign"`);
    this.addSql(`alter table "invoice_lines" drop constraint "invoice_lines_invoice_id_foreign"`);
    this.addSql(`alter table "usage_records" drop constraint "usage_records_carried_to_invoice_id_foreign"`);
    this.addSql(`alter table "invoice_lines" drop constraint "invoice_lines_price_id_foreign"`);
    this.addSql(`drop table if exists "billable_metrics" cascade`);
    this.addSql(`drop table if exists "customers" cascade`);
    this.addSql(`drop table if exists "invoices" cascade`);
    this.addSql(`drop table if exists "invoice_number_sequences" cascade`);
    this.addSql(`drop table if exists "invoice_status_changes" cascade`);
    this.addSql(`drop table if exists "payment_attempts" cascade`);
    this.addSql(`drop table if exists "prices" cascade`);
    this.addSql(`drop table if exists "invoice_lines" cascade`);
    this.addSql(`drop table if exists "stripe_subscriptions" cascade`);
    this.addSql(`drop table if exists "usage_records" cascade`);
    this.addSql(`drop table if exists "webhook_events" cascade`);
    this.addSql(`drop type "metric_aggregation"`);
    this.addSql(`drop type "invoice_status"`);
    this.addSql(`drop type "status_change_source"`);
    this.addSql(`drop type "payment_attempt_status"`);
    this.addSql(`drop type "price_model"`);
    this.addSql(`drop type "invoice_line_kind"`);
    this.addSql(`drop type "webhook_event_status"`);
  }
}

import { Migration } from '@mikro-orm/migrations';

/**
 * `usage_records` partitioned by month of `occurred_at` (UTC), one partition per month (`usage_records_pYYYY_MM`), so
 * old months can be detached for retention. A unique index on a partitioned table must hold the partition key, and
 * (customer, idempotency key, occurred_at) would store twice a retry sent with another timestamp: the idempotency
 * keys move to `usage_idempotency_keys`, written by the same statement as the events. The primary key becomes
 * (id, occurred_at); ids keep their sequence. The events already stored are copied into partitions of their months
 * (and last month, this month and the next three are created).
 */
export class Migration20261206062000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "usage_idempotency_keys" ("customer_id" uuid not null, "idempotency_key" text not null, constraint "usage_idempotency_keys_pkey" primary key ("customer_id", "idempotency_key"))`);
    this.addSql(`insert into "usage_idempotency_keys" ("customer_id", "idempotency_key") select "customer_id", "idempotency_key" from "usage_records"`);
    this.addSql(`alter table "usage_records" rename to "usage_records_unpartitioned"`);
    this.addSql(`alter table "usage_records_unpartitioned" drop constraint "usage_records_customer_id_idempotency_key_unique"`);
    this.addSql(`alter table "usage_records_unpartitioned" drop constraint "usage_records_pkey"`);
    this.addSql(`alter table "usage_records_unpartitioned" drop constraint "usage_records_customer_id_foreign"`);
    this.addSql(`alter table "usage_records_unpartitioned" drop constraint "usage_records_metric_id_foreign"`);
    this.addSql(`drop index "usage_records_customer_id_occurred_at_index"`);
    this.addSql(`drop index "usage_records_received_at_index"`);
    this.addSql(`alter table "usage_records_unpartitioned" alter column "id" drop default`);
    this.addSql(`alter sequence "usage_records_id_seq" owned by none`);
    this.addSql(`create table "usage_records" ("id" bigint not null default nextval('usage_records_id_seq'), "customer_id" uuid not null, "metric_id" uuid not null, "quantity" numeric(30,12) not null, "occurred_at" timestamptz not null, "idempotency_key" text not null, "agent_id" text null, "metadata" jsonb null, "received_at" timestamptz not null default now(), constraint "usage_records_pkey" primary key ("id", "occurred_at")) partition by range ("occurred_at")`);
    this.addSql(`alter sequence "usage_records_id_seq" owned by "usage_records"."id"`);
    this.addSql(`create index "usage_records_customer_id_occurred_at_index" on "usage_records" ("customer_id", "occurred_at")`);
    this.addSql(`create index "usage_records_received_at_index" on "usage_records" ("received_at")`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_metric_id_foreign" foreign key ("metric_id") references "billable_metrics" ("id") on update cascade on delete restrict`);
    this.addSql(`do $$
      declare m date;
      begin
        for m in
          select distinct date_trunc('month', occurred_at at time zone 'UTC')::date from usage_records_unpartitioned
          union
          select (date_trunc('month', now() at time zone 'UTC') + make_interval(months => k))::date
          from generate_series(-1, 3) as k
        loop
          execute format('create table %I partition of usage_records for values from (%L) to (%L)',
                         'usage_records_p' || to_char(m, 'YYYY_MM'),
                         m::timestamp at time zone 'UTC', (m + interval '1 month')::timestamp at time zone 'UTC');
        end loop;
      end $$`);
    this.addSql(`insert into "usage_records" ("id", "customer_id", "metric_id", "quantity", "occurred_at", "idempotency_key", "agent_id", "metadata", "received_at")
      select "id", "customer_id", "metric_id", "quantity", "occurred_at", "idempotency_key", "agent_id", "metadata", "received_at" from "usage_records_unpartitioned"`);
    this.addSql(`drop table "usage_records_unpartitioned"`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter sequence "usage_records_id_seq" owned by none`);
    this.addSql(`alter table "usage_records" rename to "usage_records_partitioned"`);
    this.addSql(`alter table "usage_records_partitioned" drop constraint "usage_records_pkey"`);
    this.addSql(`alter table "usage_records_partitioned" drop constraint "usage_records_customer_id_foreign"`);
    this.addSql(`alter table "usage_records_partitioned" drop constraint "usage_records_metric_id_foreign"`);
    this.addSql(`drop index "usage_records_customer_id_occurred_at_index"`);
    this.addSql(`drop index "usage_records_received_at_index"`);
    this.addSql(`create table "usage_records" ("id" bigint not null default nextval('usage_records_id_seq') primary key, "customer_id" uuid not null, "metric_id" uuid not null, "quantity" numeric(30,12) not null, "occurred_at" timestamptz not null, "idempotency_key" text not null, "agent_id" text null, "metadata" jsonb null, "received_at" timestamptz not null default now())`);
    this.addSql(`alter sequence "usage_records_id_seq" owned by "usage_records"."id"`);
    this.addSql(`insert into "usage_records" select "id", "customer_id", "metric_id", "quantity", "occurred_at", "idempotency_key", "agent_id", "metadata", "received_at" from "usage_records_partitioned"`);
    this.addSql(`drop table "usage_records_partitioned" cascade`);
    this.addSql(`create index "usage_records_customer_id_occurred_at_index" on "usage_records" ("customer_id", "occurred_at")`);
    this.addSql(`create index "usage_records_received_at_index" on "usage_records" ("received_at")`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_customer_id_idempotency_key_unique" unique ("customer_id", "idempotency_key")`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_customer_id_foreign" foreign key ("customer_id") references "customers" ("id") on update cascade on delete restrict`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_metric_id_foreign" foreign key ("metric_id") references "billable_metrics" ("id") on update cascade on delete restrict`);
    this.addSql(`drop table "usage_idempotency_keys"`);
  }
}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261206032409 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create type "webhook_endpoint_status" as enum ('active', 'disabled')`);
    this.addSql(`create type "outgoing_delivery_status" as enum ('pending', 'delivering', 'delivered', 'failed')`);
    this.addSql(`create table "outgoing_events" ("id" bigserial primary key, "message_id" text not null, "type" text not null, "ordering_key" text null, "data" jsonb not null, "occurred_at" timestamptz not null)`);
    this.addSql(`alter table "outgoing_events" add constraint "outgoing_events_message_id_unique" unique ("message_id")`);
    this.addSql(`create index "outgoing_events_ordering_key_id_index" on "outgoing_events" ("ordering_key", "id")`);
    this.addSql(`create table "webhook_endpoints" ("id" uuid not null, "created_at" timestamptz not null default now(), "updated_at" timestamptz not null default now(), "url" text not null, "event_types" text[] not null, "description" text null, "status" "webhook_endpoint_status" not null default 'active', "disabled_reason" text null, "disabled_at" timestamptz null, "secrets" jsonb not null, "rate_per_second" int not null default 10, constraint "webhook_endpoints_pkey" primary key ("id"))`);
    this.addSql(`create table "outgoing_deliveries" ("id" bigserial primary key, "event_id" bigint not null, "endpoint_id" uuid not null, "ordering_key" text null, "status" "outgoing_delivery_status" not null default 'pending', "attempts" int not null default 0, "next_attempt_at" timestamptz not null, "lease_until" timestamptz null, "first_attempt_at" timestamptz null, "delivered_at" timestamptz null, "last_status_code" int null, "last_error" text null)`);
    this.addSql(`create index "outgoing_deliveries_endpoint_id_ordering_key_event_id_index" on "outgoing_deliveries" ("endpoint_id", "ordering_key", "event_id")`);
    this.addSql(`create index "outgoing_deliveries_status_next_attempt_at_index" on "outgoing_deliveries" ("status", "next_attempt_at")`);
    this.addSql(`alter table "outgoing_deliveries" add constraint "outgoing_deliveries_event_id_endpoint_id_unique" unique ("event_id", "endpoint_id")`);
    this.addSql(`create table "outgoing_delivery_attempts" ("id" bigserial primary key, "delivery_id" bigint not null, "attempt" int not null, "status_code" int null, "duration_ms" int not null, "error" text null, "attempted_at" timestamptz not null)`);
    this.addSql(`alter table "outgoing_deliveries" add constraint "outgoing_deliveries_event_id_foreign" foreign key ("event_id") references "outgoing_events" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "outgoing_deliveries" add constraint "outgoing_deliveries_endpoint_id_foreign" foreign key ("endpoint_id") references "webhook_endpoints" ("id") on update cascade on delete cascade`);
    this.addSql(`alter table "outgoing_delivery_attempts" add constraint "outgoing_delivery_attempts_delivery_id_foreign" foreign key ("delivery_id") references "outgoing_deliveries" ("id") on update cascade on delete cascade`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "outgoing_deliveries" drop constraint "outgoing_deliveries_event_id_foreign"`);
    this.addSql(`alter table "outgoing_deliveries" drop constraint "outgoing_deliveries_endpoint_id_foreign"`);
    this.addSql(`alter table "outgoing_delivery_attempts" drop constraint "outgoing_delivery_attempts_delivery_id_foreign"`);
    this.addSql(`drop table if exists "outgoing_events" cascade`);
    this.addSql(`drop table if exists "webhook_endpoints" cascade`);
    this.addSql(`drop table if exists "outgoing_deliveries" cascade`);
    this.addSql(`drop table if exists "outgoing_delivery_attempts" cascade`);
    this.addSql(`drop type "webhook_endpoint_status"`);
    this.addSql(`drop type "outgoing_delivery_status"`);
  }
}

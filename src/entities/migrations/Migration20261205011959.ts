import { Migration } from '@mikro-orm/migrations';

export class Migration20261205011959 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "customers" add column "stripe_create_requested_at" timestamptz null`);
    this.addSql(
      `alter table "invoices" add column "publish_started_at" timestamptz null, add column "send_requested_at" timestamptz null`,
    );
    // Rows written before these markers existed may hide a Stripe write whose answer was lost: mark them, so their
    // next attempt looks in Stripe before creating (a look that finds nothing costs one request).
    this.addSql(
      `update "customers" set "stripe_create_requested_at" = "created_at"
       where "stripe_customer_id" is null and exists (select 1 from "invoices" i where i."customer_id" = "customers"."id")`,
    );
    this.addSql(`update "invoices" set "publish_started_at" = "created_at" where "status" = 'DRAFT'`);
    this.addSql(
      `update "invoices" set "send_requested_at" = coalesce("finalized_at", "created_at")
       where "sent_at" is null and "stripe_invoice_id" is not null and "status" <> 'DRAFT'`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "customers" drop column "stripe_create_requested_at"`);
    this.addSql(`alter table "invoices" drop column "publish_started_at", drop column "send_requested_at"`);
  }
}

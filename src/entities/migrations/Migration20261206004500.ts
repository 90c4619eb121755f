import { Migration } from '@mikro-orm/migrations';

export class Migration20261206004500 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "invoices" add column "stripe_payment_intent_id" text null, add column "last_payment_error_code" text null, add column "last_payment_error_decline_code" text null, add column "last_payment_error_message" text null, add column "last_payment_error_at" timestamptz null`);
    this.addSql(`create index "invoices_stripe_payment_intent_id_index" on "invoices" ("stripe_payment_intent_id")`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "invoices_stripe_payment_intent_id_index"`);
    this.addSql(`alter table "invoices" drop column "stripe_payment_intent_id", drop column "last_payment_error_code", drop column "last_payment_error_decline_code", drop column "last_payment_error_message", drop column "last_payment_error_at"`);
  }
}

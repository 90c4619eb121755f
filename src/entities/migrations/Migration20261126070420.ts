import { Migration } from '@mikro-orm/migrations';

export class Migration20261126070420 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "usage_records" drop constraint "usage_records_carried_to_invoice_id_foreign"`);
    this.addSql(`alter table "usage_records" rename column "carried_to_invoice_id" to "billed_on_invoice_id"`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_billed_on_invoice_id_foreign" foreign key ("billed_on_invoice_id") references "invoices" ("id") on update cascade on delete set null`);
    this.addSql(`create index "usage_records_billed_on_invoice_id_index" on "usage_records" ("billed_on_invoice_id")`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "usage_records" drop constraint "usage_records_billed_on_invoice_id_foreign"`);
    this.addSql(`drop index "usage_records_billed_on_invoice_id_index"`);
    this.addSql(`alter table "usage_records" rename column "billed_on_invoice_id" to "carried_to_invoice_id"`);
    this.addSql(`alter table "usage_records" add constraint "usage_records_carried_to_invoice_id_foreign" foreign key ("carried_to_invoice_id") references "invoices" ("id") on update cascade on delete set null`);
  }
}

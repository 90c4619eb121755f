import { Migration } from '@mikro-orm/migrations';

export class Migration20261205013126 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "billing_runs" add column "triggered_by" text null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "billing_runs" drop column "triggered_by"`);
  }
}

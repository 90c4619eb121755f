import { Migration } from '@mikro-orm/migrations';

export class Migration20261205013418 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "usage_records_received_at_index" on "usage_records" ("received_at")`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "usage_records_received_at_index"`);
  }
}

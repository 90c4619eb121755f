import { Migration } from '@mikro-orm/migrations';

export class Migration20261206073000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "webhook_endpoints" add column "rate_next_at" timestamptz null`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "webhook_endpoints" drop column "rate_next_at"`);
  }
}

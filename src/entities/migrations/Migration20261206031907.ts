import { Migration } from '@mikro-orm/migrations';

export class Migration20261206031907 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "invoices" add column "stripe_attempt_count" int not null default 0`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "invoices" drop column "stripe_attempt_count"`);
  }
}

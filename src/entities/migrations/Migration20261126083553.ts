import { Migration } from '@mikro-orm/migrations';

export class Migration20261126083553 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "webhook_events_received_at_index" on "webhook_events" ("received_at")`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "webhook_events_received_at_index"`);
  }
}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261206091900 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "outgoing_deliveries" add column "replay_requested" boolean not null default false`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "outgoing_deliveries" drop column "replay_requested"`);
  }
}

import { Migration } from '@mikro-orm/migrations';

export class Migration20261206070000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "usage_dead_letters" ("id" uuid not null, "payload" text not null, "code" text not null, "message" text not null, "recorded_at" timestamptz not null default now(), constraint "usage_dead_letters_pkey" primary key ("id"))`);
    this.addSql(`create index "usage_dead_letters_recorded_at_index" on "usage_dead_letters" ("recorded_at")`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table "usage_dead_letters"`);
  }
}

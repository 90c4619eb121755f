import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/config';
import { migrate, openDatabase, pendingMigrations } from '../entities/orm';
import { ensurePrivateDir } from '../lib/private-files';

const USAGE = `Usage: npm run db -- <command>

Commands:
  migrate            apply pending migrations to the configured database (DATABASE_URL, or the embedded one)
  status             list pending migrations
  diff               print SQL that would bring the migrated schema in line with the entities (empty = in sync)
  migration:create   write a new migration from the entity changes (diffs a fresh in-memory database)
`;

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'migration:create') {
    // A fresh in-memory database migrated to head: the diff against entities is exactly the new migration.
    const db = await openDatabase({});
    try {
      await migrate(db.orm);
      const diff = await db.orm.getSchemaGenerator().getUpdateSchemaMigrationSQL({ wrap: false });
      if (!diff.up.trim()) {
        process.stdout.write('No changes: entities and migrations agree.\n');
        return 0;
      }
      const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
      const name = `Migration${stamp}`;
      const dir = path.resolve('src/entities/migrations');
      mkdirSync(dir, { recursive: true });
      const lines = (sql: string): string =>
        sql
          .split(/;\n/)
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => `    this.addSql(\`${s.replace(/;$/, '')}\`);`)
          .join('\n');
      const file = path.join(dir, `${name}.ts`);
      writeFileSync(
        file,
        `import { Migration } from '@mikro-orm/migrations';\n\nexport class ${name} extends Migration {\n` +
          `  override async up(): Promise<void> {\n${lines(diff.up)}\n  }\n\n` +
          `  override async down(): Promise<void> {\n${lines(diff.down)}\n  }\n}\n`,
      );
      process.stdout.write(`Wrote ${path.relative(process.cwd(), file)}; add it to src/entities/migrations/index.ts\n`);
      return 0;
    } finally {
      await db.close();
    }
  }

  const config = loadConfig();
  ensurePrivateDir(config.dataDir);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDataDir: path.join(config.dataDir, 'pglite'),
  });
  try {
    if (command === 'migrate') {
      const applied = await migrate(db.orm);
      process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Already up to date.\n');
      return 0;
    }
    if (command === 'status') {
      const pending = await pendingMigrations(db.orm);
      process.stdout.write(pending.length ? `Pending: ${pending.join(', ')}\n` : 'No pending migrations.\n');
      return 0;
    }
    if (command === 'diff') {
      const sql = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
      process.stdout.write(sql.trim() ? `${sql}\n` : 'In sync.\n');
      return sql.trim() ? 1 : 0;
    }
    process.stderr.write(`Unknown command: ${command}\n\n${USAGE}`);
    return 2;
  } finally {
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { Database } from '../../src/entities/orm';
import { migrate, openDatabase } from '../../src/entities/orm';

/** The PostgreSQL server tests use, when there is one: TEST_DATABASE_URL, else DATABASE_URL; unset → PGlite. */
export function testServerUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined;
}

export interface TestDatabase {
  db: Database;
  /** URL of the fresh database (PostgreSQL only). */
  url?: string;
  drop(): Promise<void>;
}

async function admin<T>(serverUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database (a new PostgreSQL database, or an in-memory PGlite) and opens it, unmigrated. */
export async function createEmptyDatabase(options: { queryLog?: (sql: string) => void } = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  if (!serverUrl) {
    const db = await openDatabase({ queryLog: options.queryLog });
    return { db, drop: () => db.close() };
  }
  const name = `billing_test_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase({ databaseUrl: url.toString(), poolMax: 5, queryLog: options.queryLog });
  return {
    db,
    url: url.toString(),
    drop: async () => {
      await db.close();
      await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** A fresh database with every migration applied. */
export async function createTestDatabase(options: { queryLog?: (sql: string) => void } = {}): Promise<TestDatabase> {
  const test = await createEmptyDatabase(options);
  await migrate(test.db.orm);
  return test;
}

import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

/**
 * Set by the suite's global setup (`tests/setup/global-setup.ts`): a database migrated once per run, which every
 * test file copies instead of migrating its own. PostgreSQL: a template database; embedded: a PGlite dump.
 */
export const TEMPLATE_DATABASE_ENV = 'BILLING_TEST_TEMPLATE_DATABASE';
export const PGLITE_DUMP_ENV = 'BILLING_TEST_PGLITE_DUMP';

let pgliteDump: Buffer | undefined;

/** A fresh database with every migration applied: a copy of the run's template when there is one. */
export async function createTestDatabase(options: { queryLog?: (sql: string) => void } = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const template = process.env[TEMPLATE_DATABASE_ENV];
  const dumpFile = process.env[PGLITE_DUMP_ENV];
  if (serverUrl && template) {
    return copyOfTemplate(serverUrl, template, options);
  }
  if (!serverUrl && dumpFile) {
    pgliteDump ??= readFileSync(dumpFile);
    const db = await openDatabase({ pgliteLoadDataDir: new Blob([pgliteDump]), queryLog: options.queryLog });
    return { db, drop: () => db.close() };
  }
  const test = await createEmptyDatabase(options);
  await migrate(test.db.orm);
  return test;
}

async function copyOfTemplate(
  serverUrl: string,
  template: string,
  options: { queryLog?: (sql: string) => void },
): Promise<TestDatabase> {
  const name = `billing_test_${randomBytes(6).toString('hex')}`;
  await admin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
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

/**
 * Migrates the run's template once (global setup); returns the variables that name it. PostgreSQL: a database named
 * for the run, left without connections so `CREATE DATABASE … TEMPLATE` can copy it. Embedded: a migrated
 * in-memory PGlite dumped to a file.
 */
export async function prepareTemplate(): Promise<Record<string, string>> {
  const serverUrl = testServerUrl();
  if (serverUrl) {
    const name = `billing_template_${randomBytes(6).toString('hex')}`;
    await admin(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    const db = await openDatabase({ databaseUrl: url.toString(), poolMax: 1 });
    try {
      await migrate(db.orm);
    } finally {
      await db.close();
    }
    return { [TEMPLATE_DATABASE_ENV]: name };
  }
  const db = await openDatabase({});
  let dump: Blob;
  try {
    await migrate(db.orm);
    dump = await (db.pglite as NonNullable<Database['pglite']>).dumpDataDir('none');
  } finally {
    await db.close();
  }
  const file = path.join(tmpdir(), `billing-template-${randomBytes(6).toString('hex')}.tar`);
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
  return { [PGLITE_DUMP_ENV]: file };
}

/** Removes what `prepareTemplate` made, named by `env` (global teardown). */
export async function removeTemplate(env: NodeJS.ProcessEnv): Promise<void> {
  const serverUrl = testServerUrl();
  const template = env[TEMPLATE_DATABASE_ENV];
  if (serverUrl && template) {
    await admin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`));
  }
  const dumpFile = env[PGLITE_DUMP_ENV];
  if (dumpFile) {
    rmSync(dumpFile, { force: true });
  }
}

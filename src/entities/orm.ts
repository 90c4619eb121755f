import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PGlite as PGliteType } from '@electric-sql/pglite';
import { PRIVATE_FILE_MODE, ensurePrivateDir, makeTreePrivate } from '../lib/private-files';
import { MikroORM as CoreORM } from '@mikro-orm/core';
import type { Options } from '@mikro-orm/core';
import { AbstractSqlDriver, PostgreSqlDriver, PostgreSqlPlatform } from '@mikro-orm/postgresql';
import type { Configuration } from '@mikro-orm/postgresql';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { ENTITIES } from './index';
import { MIGRATIONS } from './migrations';
import { openStatementPool } from './pooled-query';

// mikro-orm-pglite's types resolve only as ESM; its CommonJS build is what runs here.
/* eslint-disable @typescript-eslint/consistent-type-imports -- typed require of ESM-typed packages */
const { PGliteConnection } = require('mikro-orm-pglite') as typeof import('mikro-orm-pglite', {
  with: { 'resolution-mode': 'import' },
});
const { PGlite } = require('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
/* eslint-enable @typescript-eslint/consistent-type-imports */

/**
 * mikro-orm-pglite's connection, with one repair. `em.execute` inlines its parameters into the SQL text, and the
 * PGlite knex dialect runs any text with a `;` outside its last character as several statements, answering with a
 * list of results. A parameter holding a semicolon (an idempotency key, a note) thus turned one statement's rows
 * into `[[rows]]`, and callers miscounted. A one-statement list is unwrapped here; true multi-statement text is
 * left as it was.
 */
type RawResult = Parameters<InstanceType<typeof PGliteConnection>['transformRawResult']>[0];

class EmbeddedConnection extends PGliteConnection {
  protected override transformRawResult<T>(response: RawResult, method: 'all' | 'get' | 'run'): T {
    const single = Array.isArray(response) && response.length === 1 ? response[0] : response;
    return super.transformRawResult<T>(single, method);
  }
}

/** mikro-orm-pglite's PGliteDriver with the connection above. */
class EmbeddedDriver extends AbstractSqlDriver<EmbeddedConnection> {
  constructor(config: Configuration) {
    super(config, new PostgreSqlPlatform(), EmbeddedConnection, [
      'knex',
      '@electric-sql/pglite',
      '@harryplusplus/knex-pglite',
    ]);
  }
}

export interface DatabaseOptions {
  /** PostgreSQL URL; without it the embedded PGlite database is used. */
  databaseUrl?: string;
  /** PGlite data folder; `undefined` keeps the embedded database in memory (tests). */
  pgliteDataDir?: string;
  /** A PGlite data folder dumped by `dumpDataDir` to start from (tests: a database migrated once per run). */
  pgliteLoadDataDir?: Blob;
  debug?: boolean;
  /** Pool size for PostgreSQL. */
  poolMax?: number;
  /** Size of PostgreSQL's statement pool (`pooledQuery`'s plain `pg` connections, beside the ORM's); default 5. */
  statementPoolMax?: number;
  /** Receives every SQL statement (tests count statements with it). */
  queryLog?: (sql: string) => void;
}

export interface Database {
  orm: MikroORM;
  kind: 'postgres' | 'pglite';
  /** The PostgreSQL URL (for dedicated connections such as LISTEN), when `kind` is `postgres`. */
  url?: string;
  /** The embedded database handle (for LISTEN/NOTIFY), when `kind` is `pglite`. */
  pglite?: PGliteType;
  close(): Promise<void>;
}

function baseOptions(options: DatabaseOptions): Options {
  return {
    entities: ENTITIES,
    discovery: { warnWhenNoEntities: true },
    debug: options.queryLog ? ['query'] : (options.debug ?? false),
    ...(options.queryLog ? { logger: options.queryLog, colors: false } : {}),
    // The schema comes only from committed migrations; nothing is synchronised from entities at run time.
    ensureDatabase: false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    extensions: [Migrator],
    migrations: {
      tableName: 'mikro_orm_migrations',
      // Listed explicitly rather than discovered on disk: the same list works from `ts` and compiled `js`.
      migrationsList: MIGRATIONS,
      path: path.resolve(__dirname, 'migrations'),
      pathTs: path.resolve(__dirname, '../../src/entities/migrations'),
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      silent: true,
      emit: 'ts',
    },
  };
}

/** Opens the database: PostgreSQL when a URL is given, embedded PGlite otherwise (same entities and migrations). */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    const orm = (await CoreORM.init({
      ...baseOptions(options),
      driver: PostgreSqlDriver,
      clientUrl: options.databaseUrl,
      pool: { min: 0, max: options.poolMax ?? 10 },
    } as Options)) as unknown as MikroORM;
    const statements = openStatementPool(orm, options.statementPoolMax ?? 5);
    return {
      orm,
      kind: 'postgres',
      url: options.databaseUrl,
      close: async () => {
        await orm.close(true);
        await statements.end();
      },
    };
  }

  const dataDir = options.pgliteDataDir;
  if (dataDir) {
    // Private by default: the folder is 0700 (no other user can reach anything inside it), and as PGlite sets the
    // modes of its own files (0666, whatever the umask), they are made 0600 once it is open and again once closed;
    // a tree an earlier version left readable is fixed before use.
    ensurePrivateDir(dataDir);
    makeTreePrivate(dataDir);
  }
  const releaseLock = dataDir ? lockDataDir(dataDir) : () => undefined;
  const pglite = new PGlite({ dataDir, loadDataDir: options.pgliteLoadDataDir });
  await pglite.waitReady;
  if (dataDir) {
    makeTreePrivate(dataDir);
  }
  const orm = (await CoreORM.init({
    ...baseOptions(options),
    driver: EmbeddedDriver,
    dbName: 'postgres',
    driverOptions: { connection: { pglite: () => pglite } },
  } as Options)) as unknown as MikroORM;
  return {
    orm,
    kind: 'pglite',
    pglite,
    close: async () => {
      await orm.close(true);
      await pglite.close();
      releaseLock();
      if (dataDir) {
        makeTreePrivate(dataDir);
      }
    },
  };
}

/**
 * PGlite is one process's database: a second process opening the same folder (a CLI command while `npm start`
 * runs) would corrupt it. A lock file with the owner's pid refuses that with a clear message; a lock left by a
 * process that no longer exists is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, 'agenthub.lock');
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx', mode: PRIVATE_FILE_MODE });
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
      const owner = Number(readFileSync(file, 'utf8'));
      if (owner && owner !== process.pid && isAlive(owner)) {
        throw new Error(
          `The embedded database in ${dataDir} is in use by process ${owner} (a running \`npm start\`?). ` +
            'Stop it first, or set DATABASE_URL to use PostgreSQL, which any number of processes can share.',
        );
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`Could not lock the embedded database in ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Applies every pending migration; returns the names applied. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const applied = await orm.getMigrator().up();
  return applied.map((m) => m.name);
}

export async function pendingMigrations(orm: MikroORM): Promise<string[]> {
  return (await orm.getMigrator().getPendingMigrations()).map((m) => m.name);
}

import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { Pool } from 'pg';
import type { PoolConfig, QueryConfig, QueryResult } from 'pg';

/** What the embedded database's connection (PGlite) offers: one parameterised statement. */
interface DriverConnection {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

interface PooledClient {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<void>;
}

/** The statement pool of each PostgreSQL database, by its ORM's configuration (shared by every fork of its em). */
const statementPools = new WeakMap<object, Pool>();

/**
 * Opens the statement pool of a PostgreSQL database: plain `pg` connections (the driver the ORM itself uses, with the
 * ORM's connection settings and type parsers, so rows read the same) for `pooledQuery`, up to `max`, opened on demand
 * and closed after 30 s idle like the ORM's. Beside the ORM's knex/tarn pool, not in it: tarn's acquire and release
 * (a pending operation with its own timeout timer and several promises) cost more than the intake's whole insert
 * (docs/benchmarks.md#webhook-intake).
 * Closed with the database.
 */
export function openStatementPool(orm: MikroORM, max: number): Pool {
  const settings = orm.em.getConnection().getConnectionOptions() as PoolConfig;
  const pool = new Pool({
    ...settings,
    max,
    idleTimeoutMillis: 30_000,
    // As long as the ORM's pool waits for a connection (knex's default acquire timeout).
    connectionTimeoutMillis: 60_000,
  });
  // An idle connection the server dropped (restart, outage) is removed from the pool and reported here; the next
  // statement opens a new one, or fails and is answered as any other database failure.
  pool.on('error', () => undefined);
  statementPools.set(orm.config, pool);
  return pool;
}

/** The statement pool's connections, as the metrics report them; undefined on the embedded database. */
export function statementPoolFigures(orm: MikroORM): { used: number; free: number; pending: number } | undefined {
  const pool = statementPools.get(orm.config);
  return pool
    ? { used: pool.totalCount - pool.idleCount, free: pool.idleCount, pending: pool.waitingCount }
    : undefined;
}

/**
 * How many `pooledQuery` statements of this database run at once: the statement pool's size on PostgreSQL, one on the
 * embedded database (its single connection).
 */
export function concurrentStatements(orm: MikroORM): number {
  return statementPools.get(orm.config)?.options.max ?? 1;
}

/**
 * Runs one parameterised statement (`$1`, `$2`, …) outside any transaction and returns its rows. For hot paths only
 * (the webhook intake, invoice reads, the status feed, the usage preview): it skips MikroORM's `execute`, which
 * inlines every parameter into the SQL text and logs around it, and knex's query builder and pool, which together
 * cost more than the statement. On PostgreSQL it runs on the statement pool (`openStatementPool`, sized by
 * DATABASE_STATEMENT_POOL_MAX); on the embedded database on the ORM's one connection, so it waits its turn behind an
 * open transaction there. Statements run here reach the ORM's query logger as others do.
 * Never from inside a transaction: the statement would not be part of it (and on the embedded database, with its
 * single connection, it would wait for that transaction forever), so that is refused.
 *
 * `name` (one per statement text, for the process's life) makes it a named prepared statement on PostgreSQL: each
 * connection parses and plans it once, then sends only its parameters, which halves the database's CPU for the
 * webhook intake's insert (docs/benchmarks.md#webhook-intake). The embedded database runs it unnamed.
 */
export function pooledQuery<T>(em: EntityManager, sql: string, params: unknown[], name?: string): Promise<T[]> {
  if (em.isInTransaction()) {
    return Promise.reject(new Error('pooledQuery runs outside transactions; use em.execute inside one'));
  }
  const pool = statementPools.get(em.config);
  return pool ? queryPool<T>(pool, em, sql, params, name) : queryOrmConnection<T>(em, sql, params);
}

/**
 * A statement written for `em.execute` (`?` placeholders, and no other `?` in it) as `pooledQuery` takes it (`$1`,
 * `$2`, …): for a statement run both inside transactions (`em.execute`) and outside them (`pooledQuery`).
 */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** One promise per statement: `pg`'s callback forms of the pool's checkout and the query create none. */
function queryPool<T>(pool: Pool, em: EntityManager, sql: string, params: unknown[], name?: string): Promise<T[]> {
  const query: QueryConfig = name === undefined ? { text: sql, values: params } : { name, text: sql, values: params };
  const started = Date.now();
  return new Promise((resolve, reject) => {
    pool.query(query, (error: Error | undefined, result: QueryResult) => {
      if (error) {
        reject(error);
        return;
      }
      em.config.getLogger().logQuery({ query: sql, took: Date.now() - started, results: result.rows.length });
      resolve(result.rows as T[]);
    });
  });
}

async function queryOrmConnection<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const client = em.getKnex().client as unknown as PooledClient;
  const connection = await client.acquireConnection();
  const started = Date.now();
  try {
    const result = await connection.query(sql, params);
    em.config.getLogger().logQuery({ query: sql, took: Date.now() - started, results: result.rows.length });
    return result.rows as T[];
  } finally {
    await client.releaseConnection(connection);
  }
}

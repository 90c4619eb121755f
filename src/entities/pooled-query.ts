import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import type { QueryConfig } from 'pg';

/** What both drivers' connections (a `pg` client, the embedded PGlite) offer: one parameterised statement. */
interface DriverConnection {
  query(sql: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

interface PooledClient {
  acquireConnection(): Promise<DriverConnection>;
  releaseConnection(connection: DriverConnection): Promise<void>;
}

/**
 * Runs one parameterised statement (`$1`, `$2`, …) on a connection borrowed from the ORM's own pool, outside any
 * transaction, and returns its rows. For hot paths only (the webhook intake): it skips MikroORM's `execute`, which
 * inlines every parameter into the SQL text and logs around it, and knex's query builder, which together cost more
 * than the statement. Same pool, same limits, so it waits its turn like every other query (on the embedded
 * database, behind an open transaction). Statements run here are not seen by the ORM's query logger.
 * Never from inside a transaction: the statement would not be part of it (and on the embedded database, with its
 * single connection, it would wait for that transaction forever), so that is refused.
 *
 * `name` (one per statement text, for the process's life) makes it a named prepared statement on PostgreSQL: each
 * connection parses and plans it once, then sends only its parameters, which halves the database's CPU for the
 * webhook intake's insert (docs/benchmarks.md#webhook-intake). The embedded database runs it unnamed.
 */
export async function pooledQuery<T>(em: EntityManager, sql: string, params: unknown[], name?: string): Promise<T[]> {
  if (em.isInTransaction()) {
    throw new Error('pooledQuery runs outside transactions; use em.execute inside one');
  }
  const client = em.getKnex().client as unknown as PooledClient;
  const connection = await client.acquireConnection();
  const started = Date.now();
  try {
    const result =
      name !== undefined && connection instanceof Client
        ? await connection.query({ name, text: sql, values: params } satisfies QueryConfig)
        : await connection.query(sql, params);
    em.config.getLogger().logQuery({ query: sql, took: Date.now() - started, results: result.rows.length });
    return result.rows as T[];
  } finally {
    await client.releaseConnection(connection);
  }
}

import type { EntityManager } from '@mikro-orm/postgresql';

/** The driver connection under an open transaction: a `pg` client on PostgreSQL, the PGlite handle when embedded. */
export interface TransactionConnection {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

interface TransactionClient {
  acquireConnection(): Promise<TransactionConnection>;
}

/**
 * The connection of `tem`'s transaction, for statements MikroORM cannot express well: bound `$n` parameters (its
 * `execute` inlines every parameter into the SQL text, megabytes for a usage batch) and `COPY … FROM STDIN`. Knex's
 * transaction client hands back the transaction's own connection and releases nothing, so what runs here is part of
 * the transaction (and, on the embedded database's single connection, never waits for it).
 */
export async function transactionConnection(tem: EntityManager): Promise<TransactionConnection> {
  const trx = tem.getTransactionContext<{ client: TransactionClient }>();
  if (!trx) {
    throw new Error('transactionConnection needs an open transaction (em.transactional)');
  }
  return trx.client.acquireConnection();
}

import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { transactionConnection } from '../../entities/transaction-connection';

/** An event the JetStream intake accepted and its writer could not store: kept with the reason, never dropped. */
export interface DeadLetter {
  /** The event as queued (JSON text: kept even when it is not storable as `jsonb`). */
  payload: string;
  code: string;
  message: string;
}

/** Records dead letters, set-based; part of the caller's transaction. */
export async function insertDeadLetters(tem: EntityManager, letters: DeadLetter[]): Promise<void> {
  const connection = await transactionConnection(tem);
  await connection.query(
    `insert into usage_dead_letters (id, payload, code, message)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[])`,
    [
      letters.map(() => randomUUID()),
      letters.map((l) => l.payload),
      letters.map((l) => l.code),
      letters.map((l) => l.message),
    ],
  );
}

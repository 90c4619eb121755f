import type { EntityManager } from '@mikro-orm/postgresql';
import { Customer } from '../../entities';
import type { Caller } from './caller';

/**
 * The caller's customer, created the first time the user is seen. Safe under concurrent first requests: the
 * unique external user id decides, and a lost race reads the winner's row.
 */
export async function getCurrentCustomer(em: EntityManager, caller: Caller): Promise<Customer> {
  const existing = await em.findOne(Customer, { externalUserId: caller.userId });
  if (existing) {
    return existing;
  }
  await em
    .createQueryBuilder(Customer)
    .insert({ id: new Customer().id, externalUserId: caller.userId })
    .onConflict('external_user_id')
    .ignore()
    .execute();
  return em.findOneOrFail(Customer, { externalUserId: caller.userId });
}

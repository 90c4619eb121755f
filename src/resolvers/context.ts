import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../config/logger';
import type { Caller } from '../services/caller';

/** Per-operation context: the verified caller and a request-scoped EntityManager. */
export interface GraphQLContext {
  caller: Caller;
  em: EntityManager;
  log: Logger;
  requestId: string;
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Caller } from '../services/caller';

/** Per-operation context: the verified caller and a request-scoped EntityManager. */
export interface GraphQLContext {
  caller: Caller;
  config: AppConfig;
  em: EntityManager;
  log: Logger;
  requestId: string;
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import type { GraphQLContext } from '../resolvers/context';
import type { TokenVerifier } from '../services/customers/auth.service';
import type { Caller } from '../services/customers/caller';
import type { StatusChangeHub } from '../services/status-feed/status-change-hub';
import type { StripeGateway } from '../stripe';

/** What every transport of one server shares: built once by `createServer`, handed to each module. */
export interface RequestServices {
  config: AppConfig;
  db: Database;
  clock: Clock;
  logger: Logger;
  verify: TokenVerifier;
  gateway: StripeGateway;
  statusHub: StatusChangeHub;
  /** A GraphQL operation's context (HTTP or WebSocket): the caller and a request-scoped EntityManager. */
  context(caller: Caller, log: Logger, requestId: string): GraphQLContext;
}

export function requestServices(shared: Omit<RequestServices, 'context'>): RequestServices {
  return {
    ...shared,
    context: (caller, log, requestId) => {
      // Forked on first use: an open subscription keeps its context for hours and seldom touches the database.
      let em: EntityManager | undefined;
      return {
        caller,
        config: shared.config,
        clock: shared.clock,
        gateway: shared.gateway,
        statusHub: shared.statusHub,
        get em() {
          em ??= shared.db.orm.em.fork();
          return em;
        },
        log,
        requestId,
      };
    },
  };
}

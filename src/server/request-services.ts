import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import type { SecretBox } from '../lib/secret-box';
import type { GraphQLContext } from '../resolvers/context';
import { createLoaders } from '../resolvers/loaders';
import type { RequestLoaders } from '../resolvers/loaders';
import type { BillingRunFeed } from '../services/billing-runs/billing-run-feed';
import type { TokenVerifier } from '../services/customers/auth.service';
import type { Caller } from '../services/customers/caller';
import type { StatusChangeHub } from '../services/status-feed/status-change-hub';
import type { StripeGateway } from '../stripe';
import type { UsageQueue } from '../services/usage/usage-queue';

/** What every transport of one server shares: built once by `createServer`, handed to each module. */
export interface RequestServices {
  config: AppConfig;
  db: Database;
  clock: Clock;
  logger: Logger;
  verify: TokenVerifier;
  gateway: StripeGateway;
  /** Seals and opens secrets stored in the database (`SECRETS_ENCRYPTION_KEYS`). */
  secretBox: SecretBox;
  statusHub: StatusChangeHub;
  billingRuns: BillingRunFeed;
  /** The JetStream usage intake (`USAGE_INGEST=jetstream`); unset: usage is written directly. */
  usageQueue?: UsageQueue;
  /**
   * A GraphQL operation's context (HTTP or WebSocket): the caller and a request-scoped EntityManager. A subscription
   * (`subscription: true`) keeps its context for hours and uses the database only while it subscribes: each use of
   * `em` forks a new one, which nothing keeps once that work is done (thousands of idle subscriptions would each
   * hold an EntityManager of several kilobytes otherwise).
   */
  context(caller: Caller, log: Logger, requestId: string, options?: { subscription?: boolean }): GraphQLContext;
}

export function requestServices(shared: Omit<RequestServices, 'context'>): RequestServices {
  return {
    ...shared,
    context: (caller, log, requestId, options = {}) => {
      // Forked on first use (and on each use for a subscription, see above).
      let em: EntityManager | undefined;
      let loaders: RequestLoaders | undefined;
      const subscription = options.subscription === true;
      return {
        caller,
        config: shared.config,
        clock: shared.clock,
        gateway: shared.gateway,
        secretBox: shared.secretBox,
        statusHub: shared.statusHub,
        billingRuns: shared.billingRuns,
        usageQueue: shared.usageQueue,
        get em() {
          if (subscription) {
            return shared.db.orm.em.fork();
          }
          em ??= shared.db.orm.em.fork();
          return em;
        },
        get loaders() {
          // A subscription's context lives for hours: fresh loaders (no cache) for each event's execution.
          if (subscription) {
            return createLoaders(() => this.em);
          }
          loaders ??= createLoaders(() => this.em);
          return loaders;
        },
        log,
        requestId,
      };
    },
  };
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { SecretBox } from '../lib/secret-box';
import type { BillingRunFeed } from '../services/billing-runs/billing-run-feed';
import type { Caller } from '../services/customers/caller';
import type { StatusChangeHub } from '../services/status-feed/status-change-hub';
import type { StripeGateway } from '../stripe';
import type { UsageQueue } from '../services/usage/usage-queue';
import type { RequestLoaders } from './loaders';

/** Per-operation context: the verified caller and a request-scoped EntityManager. */
export interface GraphQLContext {
  caller: Caller;
  config: AppConfig;
  /** The server's clock (`ServerOptions.clock`). */
  clock: Clock;
  gateway: StripeGateway;
  /** Seals and opens secrets stored in the database (`SECRETS_ENCRYPTION_KEYS`). */
  secretBox: SecretBox;
  statusHub: StatusChangeHub;
  /** Live progress of billing runs (`billingRunProgressed`). */
  billingRuns: BillingRunFeed;
  /** Where `recordUsage` queues batches when `USAGE_INGEST=jetstream`; unset: written directly. */
  usageQueue?: UsageQueue;
  em: EntityManager;
  /** Batches of per-invoice fields (`Invoice.dunning`): one read per operation, not one per invoice. */
  loaders: RequestLoaders;
  log: Logger;
  requestId: string;
}

import type { EntityManager } from '@mikro-orm/postgresql';
import type { AppConfig } from '../../config/config';
import type { Logger } from '../../config/logger';
import type { StripeGateway } from '../../stripe';

/** What the invoice and payment use cases need: a request-scoped EntityManager, the gateway, the billing settings. */
export interface InvoiceDeps {
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  /** The time of the call on the caller's clock (which periods have ended, dates, stale attempts); default now. */
  now?: Date;
  /** The request's logger (refused payments are logged). */
  log?: Logger;
}

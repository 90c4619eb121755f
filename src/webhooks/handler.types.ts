import type { EntityManager } from '@mikro-orm/postgresql';
import type { Logger } from '../config/logger';
import type { PreloadedInvoices } from '../services/stripe-events/apply-stripe-invoice-event.service';
import type { RemoteEvent } from '../stripe';

/** How a handled event ends: `processed` (applied, or deliberately skipped) or `ignored` (not ours / not relevant). */
export interface HandlerResult {
  outcome: 'processed' | 'ignored';
  /** Why, for the log line (never payload data). */
  detail?: string;
}

export interface WebhookHandlerContext {
  /** The worker's transactional manager: every query must go through it (PGlite has one connection). */
  em: EntityManager;
  event: RemoteEvent;
  log: Logger;
  /** When the worker applies a batch together: its invoices, read and locked in one statement on `em`. */
  preloaded?: PreloadedInvoices;
}

/** Applies one event inside the worker's transaction; throwing rolls its effect back and schedules a retry. */
export type WebhookHandler = (context: WebhookHandlerContext) => Promise<HandlerResult>;

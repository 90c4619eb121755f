import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from '../../config/clock';
import type { AppConfig } from '../../config/config';
import type { Logger } from '../../config/logger';
import type { StripeGateway } from '../../stripe';
import type { ReconcileOrphan } from './reconcile-orphans';

/** What reconciliation needs, is asked and answers (`reconcile-invoices.service.ts`). */

export interface ReconcileDeps {
  em: EntityManager;
  gateway: StripeGateway;
  config: Pick<AppConfig, 'billing'>;
  log?: Logger;
  /** Decides which PROCESSING payments have timed out and times the 429 backoff; default the system clock. */
  clock?: Clock;
}

export interface ReconcileChange {
  invoiceId: string;
  number: string;
  stripeInvoiceId: string | null;
  /**
   * `status` (a missed transition), `amount_paid`, `resume` (a DRAFT stuck half-way, finished by createInvoice),
   * `payment_timeout` (a PROCESSING payment that never reached Stripe, released as PAYMENT_FAILED), `send` (an open
   * invoice never e-mailed, sent now), `sent_at` (Stripe had e-mailed it; the time is recorded, nothing sent) or
   * `reissue` (its payable Stripe invoice did not total ours: voided, and the period invoiced again; `from` and `to`
   * are the two invoice numbers) or `credit_note` (a Stripe credit note we had not applied: `from` is the note's
   * number and our status, `missing` for one made in the Stripe Dashboard; `to` its status now).
   */
  action: 'status' | 'amount_paid' | 'resume' | 'payment_timeout' | 'send' | 'sent_at' | 'reissue' | 'credit_note';
  from: string;
  to: string;
  /** False in a dry run. */
  applied: boolean;
}

export interface ReconcileIssue {
  invoiceId: string;
  number: string;
  message: string;
}

export interface ReconcileReport {
  period: string;
  dryRun: boolean;
  /** Local invoices compared. */
  checked: number;
  changes: ReconcileChange[];
  /** Stripe invoices with our metadata for the period and no local row. */
  orphans: ReconcileOrphan[];
  /** Differences that need a person (e.g. paid in Stripe, VOID here). */
  warnings: ReconcileIssue[];
  /**
   * Invoices that could not be checked or repaired (Stripe unreachable…; run again), and money that is wrong: a
   * Stripe invoice whose total differs from ours that could not be reissued, or was paid (both totals named).
   */
  errors: ReconcileIssue[];
}

export interface ReconcileInput {
  period: string;
  dryRun?: boolean;
  concurrency?: number;
  /**
   * How long a PROCESSING invoice's payment attempt may stay without an outcome before it is checked in Stripe and,
   * when Stripe shows no payment, released (default 15 minutes, `DEFAULT_PROCESSING_TIMEOUT_MS`).
   */
  processingTimeoutMs?: number;
}

export type { ReconcileOrphan };

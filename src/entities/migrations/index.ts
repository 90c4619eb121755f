import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126065146 } from './Migration20261126065146';
import { Migration20261126070420 } from './Migration20261126070420';
import { Migration20261126074914 } from './Migration20261126074914';
import { Migration20261126083553 } from './Migration20261126083553';
import { Migration20261205011959 } from './Migration20261205011959';
import { Migration20261205013126 } from './Migration20261205013126';
import { Migration20261205013418 } from './Migration20261205013418';
import { Migration20261205224420 } from './Migration20261205224420';
import { Migration20261206004500 } from './Migration20261206004500';
import { Migration20261206031907 } from './Migration20261206031907';
import { Migration20261206032409 } from './Migration20261206032409';
import { Migration20261206032501 } from './Migration20261206032501';
import { Migration20261206033146 } from './Migration20261206033146';
import { Migration20261206040000 } from './Migration20261206040000';
import { Migration20261206061000 } from './Migration20261206061000';
import { Migration20261206062000 } from './Migration20261206062000';
import { Migration20261206070000 } from './Migration20261206070000';
import { Migration20261206073000 } from './Migration20261206073000';
import { Migration20261206091900 } from './Migration20261206091900';

/** Every migration in order. `npm run migration:create` writes a new file; add it here. */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261126065146', class: Migration20261126065146 },
  // usage_records.carried_to_invoice_id → billed_on_invoice_id: every billed record names its invoice.
  { name: 'Migration20261126070420', class: Migration20261126070420 },
  // billing_runs + billing_run_items: the monthly billing run, claimed once per period, items claimed SKIP LOCKED.
  { name: 'Migration20261126074914', class: Migration20261126074914 },
  // webhook_events.received_at index: health's newest receipt without a scan.
  { name: 'Migration20261126083553', class: Migration20261126083553 },
  // Resume markers: a Stripe write whose answer was lost is looked for before anything is created again (Stripe
  // forgets idempotency keys after 24 h).
  { name: 'Migration20261205011959', class: Migration20261205011959 },
  // billing_runs.triggered_by: who started (or reopened) a run through the API.
  { name: 'Migration20261205013126', class: Migration20261205013126 },
  // usage_records.received_at index: the scheduler's every-tick "usage arrived since the due month's run?".
  { name: 'Migration20261205013418', class: Migration20261205013418 },
  // payment_limit_lifts: an admin lifted a payment attempt limit; failed attempts before it no longer count.
  { name: 'Migration20261205224420', class: Migration20261205224420 },
  // invoices: the Stripe PaymentIntent id and the last payment error (code, decline code, Stripe's message).
  { name: 'Migration20261206004500', class: Migration20261206004500 },
  // invoices.stripe_attempt_count: Stripe's attempt count seen, so an earlier attempt's late failure moves nothing.
  { name: 'Migration20261206031907', class: Migration20261206031907 },
  // Outgoing webhooks: endpoints, the outbox (outgoing_events), deliveries (claimed SKIP LOCKED with a lease) and
  // their attempt log.
  { name: 'Migration20261206032409', class: Migration20261206032409 },
  // dunning_schedules (one row per invoice in dunning, steps claimed with a lease) and payment_attempts.dunning_step.
  { name: 'Migration20261206032501', class: Migration20261206032501 },
  // credit_notes (refunds and credits through Stripe credit notes); invoices: amount refunded and credited, checked.
  { name: 'Migration20261206033146', class: Migration20261206033146 },
  // usage_rollups: per customer, metric, UTC day and billing bucket, kept at ingest; previews and invoices read it.
  { name: 'Migration20261206040000', class: Migration20261206040000 },
  // usage_billing_claims: billing marks id ranges of a customer's period, not each event (billed_on_invoice_id goes).
  { name: 'Migration20261206061000', class: Migration20261206061000 },
  // usage_records partitioned by month of occurred_at; idempotency keys in usage_idempotency_keys (a unique index
  // there would have to hold occurred_at).
  { name: 'Migration20261206062000', class: Migration20261206062000 },
  // usage_dead_letters: events the JetStream intake accepted that its writer refused (unknown metric…), with why.
  { name: 'Migration20261206070000', class: Migration20261206070000 },
  // webhook_endpoints.rate_next_at: one rate budget per endpoint shared by every instance, taken in the claim.
  { name: 'Migration20261206073000', class: Migration20261206073000 },
  // outgoing_deliveries.replay_requested: a replay asked while the delivery was in flight, done when the attempt ends.
  { name: 'Migration20261206091900', class: Migration20261206091900 },
];

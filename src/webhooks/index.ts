import express from 'express';
import type { Router } from 'express';
import type { AppConfig } from '../config/config';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';

export interface WebhookComponents {
  /** Mounted before any JSON parser: the Stripe route needs the raw body to verify the signature. */
  router: Router;
  /** Background processing of stored events. */
  worker: { start(): void; stop(): Promise<void> };
}

/** Builds the Stripe webhook route and its worker (implemented in this folder). */
export function createWebhookComponents(_deps: { db: Database; config: AppConfig; logger: Logger }): WebhookComponents {
  return { router: express.Router(), worker: { start: () => undefined, stop: async () => undefined } };
}

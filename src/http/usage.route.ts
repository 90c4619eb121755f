import express from 'express';
import type { Router } from 'express';
import type { Database } from '../entities/orm';
import type { TokenVerifier } from '../services/customers/auth.service';
import { recordUsage } from '../services/usage/record-usage.service';
import type { UsageEventData } from '../services/usage/record-usage.service';
import type { UsageQueue } from '../services/usage/usage-queue';
import { ok } from './http-errors';
import { jsonBody } from './json-body';
import { restRoute } from './rest-route';

export const USAGE_PATH = '/api/v1/usage';

/**
 * `POST /api/v1/usage`: the same ingestion as the `recordUsage` mutation, for agent runtimes that do not speak
 * GraphQL. Body: a JSON array of events (or `{ "events": [...] }`). 200 with
 * `{ success, accepted, duplicates, rejected, late }`; failures in the one REST error shape. With `queue`
 * (`USAGE_INGEST=jetstream`) the batch is answered once queued (see `recordUsage`).
 */
export function usageRouter(db: Database, verify: TokenVerifier, queue?: UsageQueue): Router {
  const router = express.Router();
  // 10,000 events of a few hundred bytes each, with room for metadata.
  const parseJson = jsonBody('16mb');
  router.post(
    USAGE_PATH,
    restRoute(
      verify,
      'recordUsage',
      async ({ body }, caller) => {
        // The document's `UsageRequest` has already checked the envelope; each event is the service's to judge.
        const events = Array.isArray(body) ? body : (body as { events: unknown[] }).events;
        return ok(
          await recordUsage(db.orm.em.fork(), caller, events as UsageEventData[], new Date(), undefined, queue),
        );
      },
      { parseJson },
    ),
  );
  return router;
}

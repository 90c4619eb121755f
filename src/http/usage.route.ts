import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import type { Database } from '../entities/orm';
import type { TokenVerifier } from '../services/auth.service';
import { DomainError } from '../services/errors';
import { recordUsage } from '../services/record-usage.service';
import type { UsageEventData } from '../services/record-usage.service';
import { UNSTORABLE_TEXT_MESSAGE, storableJsonReviver } from '../schema/storable-text';
import { authenticate } from './authenticate';

const STATUS: Record<DomainError['code'], number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
};

/**
 * `POST /api/v1/usage`: the same ingestion as the `recordUsage` mutation, for agent runtimes that do not speak
 * GraphQL. Body: a JSON array of events (or `{ "events": [...] }`). 200 with `{ accepted, duplicates, rejected, late }`.
 */
export function usageRouter(db: Database, verify: TokenVerifier): Router {
  const router = express.Router();
  // 10,000 events of a few hundred bytes each, with room for metadata.
  const parseJson = express.json({ limit: '16mb', reviver: storableJsonReviver });
  router.post('/api/v1/usage', async (req: Request, res: Response, next: NextFunction) => {
    try {
      // The token first: a caller without one learns nothing about the body rules (and costs no parsing).
      const caller = await authenticate(verify, req.headers.authorization);
      await new Promise<void>((resolve, reject) => {
        parseJson(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
      });
      const body: unknown = req.body;
      const events = Array.isArray(body)
        ? body
        : typeof body === 'object' && body !== null && Array.isArray((body as { events?: unknown }).events)
          ? (body as { events: unknown[] }).events
          : undefined;
      if (!events) {
        res.status(400).json({
          error: { code: 'BAD_REQUEST', message: 'Body must be a JSON array of usage events or { "events": [...] }' },
        });
        return;
      }
      const result = await recordUsage(db.orm.em.fork(), caller, events as UsageEventData[]);
      res.json(result);
    } catch (error) {
      if (error instanceof DomainError) {
        res.status(STATUS[error.code]).json({ error: { code: error.code, message: error.message } });
        return;
      }
      if ((error as { type?: unknown }).type === 'entity.parse.failed') {
        // body-parser's own message may quote the body; say what is wrong in our words.
        const message =
          error instanceof Error && error.message === UNSTORABLE_TEXT_MESSAGE
            ? error.message
            : 'The request body is not valid JSON';
        res.status(400).json({ error: { code: 'BAD_REQUEST', message } });
        return;
      }
      next(error);
    }
  });
  return router;
}

import { Router } from 'express';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { pendingMigrations } from '../entities/orm';
import type { StatusFeedState } from '../services/status-feed/status-change-hub';

/**
 * `/healthz`: the process answers (no I/O, for liveness probes). `/readyz`: the database answers, no migration is
 * pending and the status feed listens (for load balancers; 503 with the failing check otherwise). While the status
 * feed reconnects, subscribers on this instance hear nothing live (they get the changes once it is back).
 */
export function healthRouter(db: Database, statusFeed: { readonly state: StatusFeedState }): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    let ready = true;
    try {
      await db.orm.em.fork().getConnection().execute('select 1');
      checks.database = 'ok';
      const pending = await pendingMigrations(db.orm);
      checks.migrations = pending.length ? `pending: ${pending.join(', ')}` : 'ok';
      ready = pending.length === 0;
    } catch (error) {
      (res.locals.log as Logger).warn({ err: error }, 'readiness check failed');
      checks.database = 'unreachable';
      ready = false;
    }
    checks.statusFeed = statusFeed.state === 'ok' ? 'ok' : statusFeed.state;
    ready &&= statusFeed.state === 'ok';
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}

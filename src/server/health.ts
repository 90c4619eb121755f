import { Router } from 'express';
import type { Logger } from '../config/logger';
import type { Database } from '../entities/orm';
import { pendingMigrations } from '../entities/orm';

/**
 * `/healthz`: the process answers (no I/O, for liveness probes). `/readyz`: the database answers and no migration is
 * pending (for load balancers; 503 with the failing check otherwise).
 */
export function healthRouter(db: Database): Router {
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
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  return router;
}

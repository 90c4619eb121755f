import express, { type Request, type Response, type Router } from 'express';
import type { ApiRouter } from './api';
import { advanceClock } from './clock';
import { AUTOMATIC, type Emulator } from './context';
import { StripeApiError } from './errors';
import type { FaultRuleInput } from './chaos';
import type { HoldLockInput, LockModes } from './locks';
import { getInvoice } from './invoice-model';
import { completeThreeDSecure } from './payments';
import type { DeliveryModes } from './webhook-delivery';

/** The control API under /_emulator (JSON, no auth): reset, delivery log, faults, clock, rate limit. */
export function controlRouter(emu: Emulator, api: ApiRouter): Router {
  const r = express.Router();
  r.use(express.json());

  const guard =
    (fn: (req: Request, res: Response) => unknown | Promise<unknown>) =>
    async (req: Request, res: Response): Promise<void> => {
      try {
        const out = await fn(req, res);
        if (!res.headersSent) {
          res.json(out ?? { ok: true });
        }
      } catch (e) {
        const status = e instanceof StripeApiError ? e.status : 400;
        res.status(status).json({ error: { message: e instanceof Error ? e.message : String(e) } });
      }
    };

  r.get(
    '/health',
    guard(() => ({ ok: true, now: emu.now(), clockOffset: emu.state.clockOffset })),
  );

  r.post(
    '/reset',
    guard(() => {
      api.releaseHanging();
      emu.reset();
      return { ok: true };
    }),
  );

  r.get(
    '/state',
    guard(() => ({
      customers: emu.state.customers.size,
      invoices: emu.state.invoices.size,
      invoiceItems: emu.state.invoiceItems.size,
      events: emu.state.events.size,
      webhookEndpoints: emu.state.webhookEndpoints.size,
      pendingDeliveries: emu.webhooks.pendingCount,
    })),
  );

  r.get(
    '/webhooks/deliveries',
    guard((req) => {
      const eventId = typeof req.query.event === 'string' ? req.query.event : undefined;
      return { data: emu.webhooks.log.filter((d) => !eventId || d.eventId === eventId) };
    }),
  );
  r.delete(
    '/webhooks/deliveries',
    guard(() => void (emu.webhooks.log.length = 0)),
  );

  r.post(
    '/webhooks/mode',
    guard((req) => {
      const body = (req.body ?? {}) as Partial<DeliveryModes>;
      emu.webhooks.modes = { ...emu.webhooks.modes, ...body };
      return emu.webhooks.modes;
    }),
  );

  r.post(
    '/webhooks/target',
    guard((req) => {
      const { url, secret } = req.body as { url?: string | null; secret?: string };
      if (url !== null && (typeof url !== 'string' || !/^https?:\/\//.test(url))) {
        throw new Error('url must be an http(s) URL or null');
      }
      emu.setWebhookTarget(url, secret);
      return { url: emu.config.webhookUrl ?? null };
    }),
  );

  r.post(
    '/webhooks/retry-schedule',
    guard((req) => {
      const schedule = (req.body as { scheduleMs?: unknown }).scheduleMs;
      if (!Array.isArray(schedule) || !schedule.every((n) => typeof n === 'number' && n >= 0)) {
        throw new Error('scheduleMs must be an array of non-negative numbers');
      }
      emu.config.retryScheduleMs = schedule as number[];
      return { scheduleMs: schedule };
    }),
  );

  r.post(
    '/webhooks/wait-idle',
    guard(async (req) => {
      const timeoutMs = Number((req.body as { timeoutMs?: number }).timeoutMs ?? 10_000);
      const idle = await emu.webhooks.whenIdle(timeoutMs);
      return { idle, pending: emu.webhooks.pendingCount };
    }),
  );

  r.get(
    '/faults',
    guard(() => ({ data: emu.chaos.rules })),
  );
  r.post(
    '/faults',
    guard((req) => emu.chaos.addRule(req.body as FaultRuleInput)),
  );
  r.delete(
    '/faults',
    guard(() => void emu.chaos.clearRules()),
  );
  r.delete(
    '/faults/:id',
    guard((req) => ({ deleted: emu.chaos.removeRule(String(req.params.id)) })),
  );
  r.post(
    '/faults/:id/wait-held',
    guard(async (req, res) => {
      const id = String(req.params.id);
      if (!emu.chaos.heldState(id)) {
        throw new StripeApiError(404, { type: 'invalid_request_error', message: `No fault ${id}` });
      }
      const body = (req.body ?? {}) as { count?: number; timeoutMs?: number };
      const count = Number(body.count ?? 1);
      const state = await emu.chaos.whenHeld(id, count, Number(body.timeoutMs ?? 10_000));
      if (!state) {
        res.status(408);
        return {
          error: { message: `fault ${id} did not hold ${count} request(s) in time`, ...emu.chaos.heldState(id) },
        };
      }
      return state;
    }),
  );
  r.post(
    '/faults/:id/release',
    guard((req) => ({ released: emu.chaos.release(String(req.params.id)) })),
  );

  r.get(
    '/locks',
    guard(() => ({ data: emu.locks.held(), modes: emu.locks.modes, refused: emu.locks.refusedTotal })),
  );
  r.post(
    '/locks',
    guard((req) => emu.locks.hold((req.body ?? {}) as HoldLockInput)),
  );
  r.post(
    '/locks/mode',
    guard((req) => emu.locks.setModes((req.body ?? {}) as Partial<LockModes>)),
  );
  r.delete(
    '/locks/:object',
    guard((req) => ({ released: emu.locks.release(String(req.params.object)) })),
  );

  r.get(
    '/rate-limit',
    guard(() => ({ limit: emu.chaos.rateLimit, ...emu.chaos.rateCounts })),
  );
  r.post(
    '/rate-limit',
    guard((req) => {
      const limit = (req.body as { limit?: number | null }).limit;
      emu.chaos.rateLimit = typeof limit === 'number' && limit > 0 ? limit : null;
      emu.chaos.rateCounts = { allowed: 0, refused: 0 };
      return { limit: emu.chaos.rateLimit };
    }),
  );

  r.get(
    '/clock',
    guard(() => ({ now: emu.now(), offset: emu.state.clockOffset })),
  );
  r.post(
    '/clock/advance',
    guard((req) => {
      const body = req.body as { seconds?: number; to?: number };
      const seconds = body.to !== undefined ? body.to - emu.now() : Number(body.seconds ?? 0);
      return advanceClock(emu, seconds);
    }),
  );

  r.post(
    '/invoices/:id/three-d-secure',
    guard((req) => {
      const inv = getInvoice(emu, String(req.params.id));
      const approve = (req.body as { result?: string }).result !== 'fail';
      const result = completeThreeDSecure(emu, inv, approve, AUTOMATIC);
      return { result: result.kind, status: inv.status };
    }),
  );

  return r;
}

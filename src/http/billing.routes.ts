import express from 'express';
import type { Request, Router } from 'express';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Database } from '../entities/orm';
import type { TokenVerifier } from '../services/customers/auth.service';
import { cancelInvoice } from '../services/invoicing/cancel-invoice.service';
import type { Caller } from '../services/customers/caller';
import { isPrivileged, resolveSubject } from '../services/customers/caller';
import { createInvoice } from '../services/invoicing/create-invoice.service';
import type { InvoiceDeps } from '../services/invoicing/invoice-deps';
import { NotFoundError } from '../services/shared/errors';
import { findAccessibleInvoice, getInvoice, listInvoices } from '../services/invoicing/get-invoices.service';
import { payInvoice } from '../services/payments/pay-invoice.service';
import { USER_ID_NUMBER_RULE, isUserIdNumber } from '../services/customers/user-id';
import { UNSTORABLE_TEXT_MESSAGE, isStorableText, storableJsonReviver } from '../schema/storable-text';
import type { StripeGateway } from '../stripe';
import { cancelResult, createResult, invoiceResult, listResult, payResult } from './billing-responses';
import type { HttpResult } from './http-errors';
import { RequestError } from './http-errors';
import { restRoute } from './rest-route';
import { openApiDocument } from './openapi';

export interface BillingRouterDeps {
  db: Database;
  verify: TokenVerifier;
  gateway: StripeGateway;
  config: AppConfig;
  /** Which periods have ended, when a payment attempt is stale; default the system clock. */
  clock?: Clock;
}

/** The paths the router serves (Express syntax); `openapi.ts` describes the same ones and a test keeps them equal. */
export const BILLING_PATHS = {
  create: '/api/v1/billing/invoice/:month/create',
  list: '/api/v1/billing/invoices',
  invoice: '/api/v1/billing/invoice/:invoice_id',
  pay: '/api/v1/billing/invoice/:invoice_id/pay',
  cancel: '/api/v1/billing/invoice/:invoice_id/cancel',
  openapi: '/api/v1/openapi.json',
} as const;

// A payment body is two ids; anything near this limit is not a payment request.
const parseJson = express.json({ limit: '16kb', reviver: storableJsonReviver });

/**
 * The payment guide's REST API: thin routes over the same services as the GraphQL resolvers. Each route reads its
 * input, authenticates with the same Bearer verifier, calls one service and hands the outcome to
 * `billing-responses.ts`, the only place that chooses status codes and shapes.
 */
export function billingRouter(deps: BillingRouterDeps): Router {
  const { db, verify, gateway, config, clock = systemClock } = deps;
  const router = express.Router();
  const services = (): InvoiceDeps => ({ em: db.orm.em.fork(), gateway, config, now: new Date(clock.now()) });

  const route = (handler: (req: Request, caller: Caller) => Promise<HttpResult>, options: { json?: boolean } = {}) =>
    restRoute(verify, handler, options.json ? { parseJson } : {});

  router.get(BILLING_PATHS.openapi, (_req, res) => {
    res.json(openApiDocument);
  });

  router.post(
    BILLING_PATHS.create,
    route(async (req, caller) => {
      const userId = userIdParam(req.query.user_id);
      const outcome = await createInvoice(services(), caller, { period: String(req.params.month), userId });
      return createResult(outcome);
    }),
  );

  router.get(
    BILLING_PATHS.list,
    route(async (req, caller) => {
      const page = await listInvoices(db.orm.em.fork(), caller, {
        userId: userIdParam(req.query.user_id),
        first: limitParam(req.query.limit),
        after: stringParam(req.query.cursor, 'cursor'),
      });
      return listResult(page);
    }),
  );

  router.get(
    BILLING_PATHS.invoice,
    route(async (req, caller) => {
      const invoiceId = String(req.params.invoice_id);
      await checkUserScope(services(), caller, invoiceId, userIdParam(req.query.user_id));
      return invoiceResult(await getInvoice(db.orm.em.fork(), caller, invoiceId));
    }),
  );

  router.post(
    BILLING_PATHS.pay,
    route(
      async (req, caller) => {
        const body = jsonObject(req.body, 'payment_method_id and user_id');
        const paymentMethodId = body.payment_method_id;
        if (typeof paymentMethodId !== 'string' || paymentMethodId.length === 0) {
          throw new RequestError(400, 'invalid_request', 'payment_method_id is required and must be a string');
        }
        const invoiceId = String(req.params.invoice_id);
        await checkUserScope(services(), caller, invoiceId, userIdParam(body.user_id ?? req.query.user_id));
        return payResult(await payInvoice(services(), caller, { invoiceId, paymentMethodId }));
      },
      { json: true },
    ),
  );

  router.post(
    BILLING_PATHS.cancel,
    route(
      async (req, caller) => {
        // The guide sends no body; `reason` and `user_id` may come as JSON or in the query string, as for pay.
        const body = req.body === undefined ? {} : jsonObject(req.body, 'an optional reason and user_id');
        // Its length is the service's rule (422), so no route-level cap here.
        const reason = stringParam(body.reason ?? req.query.reason, 'reason', Infinity);
        const invoiceId = String(req.params.invoice_id);
        await checkUserScope(services(), caller, invoiceId, userIdParam(body.user_id ?? req.query.user_id));
        return cancelResult(await cancelInvoice(services(), caller, { invoiceId, reason }));
      },
      { json: true },
    ),
  );

  return router;
}

/**
 * `user_id` names whose invoice the caller means. Another user's id is 403 for a plain user whether or not the
 * invoice exists (`resolveSubject`, the services' own rule). An admin or service naming a user gets 404 when the
 * invoice belongs to someone else, so a script's wrong pairing never pays or voids another customer's invoice.
 * A plain user naming themselves needs no check: the service already answers 404 for invoices that are not theirs.
 */
async function checkUserScope(
  deps: InvoiceDeps,
  caller: Caller,
  invoiceId: string,
  userId: string | undefined,
): Promise<void> {
  const subject = resolveSubject(caller, userId);
  if (userId === undefined || !isPrivileged(caller)) {
    return;
  }
  const invoice = await findAccessibleInvoice(deps.em, caller, invoiceId);
  if (invoice.customer.externalUserId !== subject) {
    throw new NotFoundError(`Invoice "${invoiceId}"`);
  }
}

/** A single, non-empty string parameter or nothing; `?a=1&a=2` and `?a[b]=1` are refused rather than guessed. */
function stringParam(value: unknown, name: string, maxLength = 500): string | undefined {
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new RequestError(400, 'invalid_request', `${name} must be a single string`);
  }
  if (value.length > maxLength) {
    throw new RequestError(400, 'invalid_request', `${name} must be at most ${maxLength} characters`);
  }
  if (!isStorableText(value)) {
    throw new RequestError(400, 'invalid_request', `${name}: ${UNSTORABLE_TEXT_MESSAGE}`);
  }
  return value;
}

/**
 * `user_id` from the query (always text) or a JSON body, where the guide's own example sends it as a number:
 * `123` and `"123"` name the same user (`user-id.ts`); any other number is refused rather than guessed.
 */
function userIdParam(value: unknown): string | undefined {
  if (isUserIdNumber(value)) {
    return String(value);
  }
  if (value !== undefined && value !== null && typeof value !== 'string') {
    throw new RequestError(400, 'invalid_request', `user_id must be a single string or ${USER_ID_NUMBER_RULE}`);
  }
  return stringParam(value, 'user_id');
}

/** The guide's default page size is 50; the range itself is the service's rule (1–100). */
function limitParam(value: unknown): number {
  if (value === undefined || value === '') {
    return 50;
  }
  if (typeof value !== 'string' || !/^\d{1,6}$/.test(value)) {
    throw new RequestError(400, 'invalid_limit', 'limit must be an integer between 1 and 100');
  }
  return Number(value);
}

function jsonObject(body: unknown, expected: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(
      400,
      'invalid_request',
      `Send a JSON object (Content-Type: application/json) with ${expected}`,
    );
  }
  return body as Record<string, unknown>;
}

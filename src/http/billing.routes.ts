import express from 'express';
import type { Router } from 'express';
import type { Logger } from '../config/logger';
import type { Clock } from '../config/clock';
import { systemClock } from '../config/clock';
import type { AppConfig } from '../config/config';
import type { Database } from '../entities/orm';
import type { TokenVerifier } from '../services/customers/auth.service';
import { createCreditNote } from '../services/credit-notes/create-credit-note.service';
import type { CreditNoteOutcome } from '../services/credit-notes/issue-credit-note';
import { refundInvoice } from '../services/credit-notes/refund-invoice.service';
import { cancelInvoice } from '../services/invoicing/cancel-invoice.service';
import type { Caller } from '../services/customers/caller';
import { requireRole } from '../services/customers/caller';
import { Role } from '../entities/enums';
import { createInvoice } from '../services/invoicing/create-invoice.service';
import type { InvoiceDeps } from '../services/invoicing/invoice-deps';
import { getInvoice, listInvoices } from '../services/invoicing/get-invoices.service';
import { payInvoice } from '../services/payments/pay-invoice.service';
import { liftPaymentAttemptLimit, listPaymentAttemptBlocks } from '../services/payments/payment-limits-admin.service';
import type { PaymentLimitsDeps } from '../services/payments/payment-limits-admin.service';
import type { StripeGateway } from '../stripe';
import {
  blocksResult,
  cancelResult,
  createResult,
  creditNoteResult,
  invoiceResult,
  liftResult,
  listResult,
  payResult,
} from './billing-responses';
import type { HttpResult } from './http-errors';
import { RequestError } from './http-errors';
import { jsonBody } from './json-body';
import type { RestInput } from './request-validation';
import { restRoute } from './rest-route';
import { openApiDocument } from './openapi';

export interface BillingRouterDeps {
  db: Database;
  verify: TokenVerifier;
  gateway: StripeGateway;
  config: AppConfig;
  /** Which periods have ended, when a payment attempt is stale; default the system clock. */
  clock?: Clock;
  /** Where a payment refused by the attempt limits is logged. */
  logger?: Logger;
}

/** The paths the router serves (Express syntax); `openapi.ts` describes the same ones and a test keeps them equal. */
export const BILLING_PATHS = {
  create: '/api/v1/billing/invoice/:month/create',
  list: '/api/v1/billing/invoices',
  invoice: '/api/v1/billing/invoice/:invoice_id',
  pay: '/api/v1/billing/invoice/:invoice_id/pay',
  cancel: '/api/v1/billing/invoice/:invoice_id/cancel',
  refund: '/api/v1/billing/invoice/:invoice_id/refund',
  creditNotes: '/api/v1/billing/invoice/:invoice_id/credit-notes',
  blocks: '/api/v1/billing/payment-attempt-blocks',
  lift: '/api/v1/billing/payment-attempt-limits/lift',
  openapi: '/api/v1/openapi.json',
} as const;

// A payment body is two ids; anything near this limit is not a payment request.
const parseJson = jsonBody('16kb');

/**
 * The payment guide's REST API: thin routes over the same services as the GraphQL resolvers. Each route names its
 * operation in the OpenAPI document, which validates its input (`rest-route.ts`); the route then calls one service
 * with the caller from the same Bearer verifier and hands the outcome to `billing-responses.ts`, the only place that
 * chooses status codes and shapes. Who may name which user (`user_id`) is the services' rule.
 */
export function billingRouter(deps: BillingRouterDeps): Router {
  const { db, verify, gateway, config, clock = systemClock } = deps;
  const router = express.Router();
  const services = (): InvoiceDeps => ({
    em: db.orm.em.fork(),
    gateway,
    config,
    now: new Date(clock.now()),
    log: deps.logger,
  });

  const route = (
    operationId: string,
    handler: (input: RestInput, caller: Caller) => Promise<HttpResult>,
    options: { json?: boolean } = {},
  ) => restRoute(verify, operationId, handler, options.json ? { parseJson } : {});

  router.get(BILLING_PATHS.openapi, (_req, res) => {
    res.json(openApiDocument);
  });

  router.post(
    BILLING_PATHS.create,
    route('createInvoice', async ({ params }, caller) => {
      const outcome = await createInvoice(services(), caller, {
        period: params.month as string,
        userId: userIdOf(params.user_id),
      });
      return createResult(outcome);
    }),
  );

  router.get(
    BILLING_PATHS.list,
    route('listInvoices', async ({ params }, caller) => {
      const page = await listInvoices(db.orm.em.fork(), caller, {
        userId: userIdOf(params.user_id),
        first: params.limit as number,
        after: params.cursor as string | undefined,
      });
      return listResult(page);
    }),
  );

  router.get(
    BILLING_PATHS.invoice,
    route('getInvoice', async ({ params }, caller) => {
      const invoiceId = params.invoice_id as string;
      return invoiceResult(await getInvoice(db.orm.em.fork(), caller, invoiceId, userIdOf(params.user_id)));
    }),
  );

  router.post(
    BILLING_PATHS.pay,
    route(
      'payInvoice',
      async ({ params, body = {} }, caller) => {
        const { payment_method_id: paymentMethodId, user_id: userId } = body as {
          payment_method_id: string;
          user_id?: string | number;
        };
        return payResult(
          await payInvoice(services(), caller, {
            invoiceId: params.invoice_id as string,
            paymentMethodId,
            // The body's user_id, as the guide sends it, wins over the query's.
            userId: userIdOf(userId ?? params.user_id),
          }),
        );
      },
      { json: true },
    ),
  );

  router.post(
    BILLING_PATHS.cancel,
    route(
      'cancelInvoice',
      async ({ params, body = {} }, caller) => {
        // The guide sends no body; `reason` and `user_id` may come as JSON or in the query string, as for pay.
        const { reason, user_id: userId } = body as { reason?: string; user_id?: string | number };
        const outcome = await cancelInvoice(services(), caller, {
          invoiceId: params.invoice_id as string,
          reason: reason ?? (params.reason as string | undefined),
          userId: userIdOf(userId ?? params.user_id),
        });
        return cancelResult(outcome);
      },
      { json: true },
    ),
  );

  /** The invoice as it is after an issued note, for the response. */
  const creditNoteAnswer = async (outcome: CreditNoteOutcome, caller: Caller): Promise<HttpResult> =>
    creditNoteResult(
      outcome,
      outcome.kind === 'issued' ? await getInvoice(db.orm.em.fork(), caller, outcome.invoice.id) : null,
    );
  const bigintOf = (value: number | undefined): bigint | null => (value === undefined ? null : BigInt(value));
  /** The `Idempotency-Key` header, or `idempotency_key` in the body (the same key if both are sent). */
  const requestKeyOf = (params: Record<string, unknown>, body: { idempotency_key?: string }): string | null => {
    const header = params['Idempotency-Key'] as string | undefined;
    if (header !== undefined && body.idempotency_key !== undefined && header !== body.idempotency_key) {
      throw new RequestError(400, 'invalid_request', 'Idempotency-Key and idempotency_key differ: send one key', {
        param: 'Idempotency-Key',
      });
    }
    return header ?? body.idempotency_key ?? null;
  };

  router.post(
    BILLING_PATHS.refund,
    route(
      'refundInvoice',
      async ({ params, body = {} }, caller) => {
        const b = body as { amount_minor?: number; reason?: string; idempotency_key?: string };
        const outcome = await refundInvoice(services(), caller, {
          invoiceId: params.invoice_id as string,
          amountMinor: bigintOf(b.amount_minor),
          reason: b.reason,
          idempotencyKey: requestKeyOf(params, b),
        });
        return creditNoteAnswer(outcome, caller);
      },
      { json: true },
    ),
  );

  router.post(
    BILLING_PATHS.creditNotes,
    route(
      'createCreditNote',
      async ({ params, body = {} }, caller) => {
        const b = body as {
          lines?: Array<{ invoice_line_id: string; amount_minor: number }>;
          amount_minor?: number;
          reason?: string;
          idempotency_key?: string;
        };
        const outcome = await createCreditNote(services(), caller, {
          invoiceId: params.invoice_id as string,
          lines: b.lines?.map((l) => ({ invoiceLineId: l.invoice_line_id, amountMinor: BigInt(l.amount_minor) })),
          amountMinor: bigintOf(b.amount_minor),
          reason: b.reason,
          idempotencyKey: requestKeyOf(params, b),
        });
        return creditNoteAnswer(outcome, caller);
      },
      { json: true },
    ),
  );

  // Admins: the payment attempt limits (card testing), as GraphQL's paymentAttemptBlocks / liftPaymentAttemptLimit.
  const limits = (): PaymentLimitsDeps => ({
    em: db.orm.em.fork(),
    config,
    now: new Date(clock.now()),
    log: deps.logger,
  });

  router.get(
    BILLING_PATHS.blocks,
    route('listPaymentAttemptBlocks', async ({ params }, caller) =>
      blocksResult(await listPaymentAttemptBlocks(limits(), caller, { userId: userIdOf(params.user_id) })),
    ),
  );

  router.post(
    BILLING_PATHS.lift,
    route(
      'liftPaymentAttemptLimit',
      async ({ body = {} }, caller) => {
        const {
          invoice_id: invoiceId,
          user_id: userId,
          reason,
        } = body as {
          invoice_id?: string;
          user_id?: string | number;
          reason?: string;
        };
        // The service's rules, named as REST names the fields: admins only, then exactly one target.
        requireRole(caller, Role.ADMIN);
        if (named(invoiceId) === named(userId)) {
          throw new RequestError(
            422,
            'validation_error',
            'Name exactly one of invoice_id (one invoice) or user_id (a user and all of their invoices)',
            { param: 'invoice_id' },
          );
        }
        return liftResult(
          await liftPaymentAttemptLimit(limits(), caller, { invoiceId, userId: userIdOf(userId), reason }),
        );
      },
      { json: true },
    ),
  );

  return router;
}

/** A target given (an empty text names nothing). */
const named = (value: unknown): boolean => value !== undefined && value !== '';

/** A validated `user_id` (text, or a whole JSON number: `123` names the user "123"). */
function userIdOf(value: unknown): string | undefined {
  return value === undefined ? undefined : String(value);
}

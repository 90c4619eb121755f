/**
 * OpenAPI 3.1 description of every REST route (the payment guide's `billing.routes.ts`, `usage.route.ts`, the webhook
 * routes, the outgoing webhook endpoints' `webhook-endpoints.routes.ts` described in `webhook-endpoints.openapi.ts`), served at `/api/v1/openapi.json`. Its component schemas are the one description of each body: the REST
 * test harness validates every response it receives against the schema documented for that route and status, and
 * `tests/rest/openapi.test.ts` walks the routers and fails when a route, method or response is missing here. Its
 * parameter and request body schemas are also the routes' request validation (`request-validation.ts`, with the two
 * extensions described there: `x-storable` and `x-error`), so what a route refuses is what this document says.
 */

import { webhookEndpointPaths, webhookEndpointSchemas } from './webhook-endpoints.openapi';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
const error = (description: string) => json(ref('Error'), description);

/** Responses every authenticated route can give. */
const COMMON = {
  '401': error('Missing, malformed, invalid or expired Bearer token (`unauthenticated`)'),
  '403': error('`user_id` names another user and the caller is neither admin nor service (`forbidden`)'),
  '500': error('Unexpected failure (`internal_error`); never a stack trace'),
};

/** Text PostgreSQL can store: no NUL, no unpaired UTF-16 surrogate (`request-validation.ts`). */
const storable = { 'x-storable': true };

/**
 * A user id is text, but JSON clients may send it as a number, as the guide's pay example does (`"user_id": 123`):
 * a whole number from 0 to 2^53 − 1 names the user whose id is its digits; any other number is refused (400).
 */
const userId = {
  type: ['string', 'integer'],
  maxLength: 500,
  ...storable,
  minimum: 0,
  maximum: Number.MAX_SAFE_INTEGER,
  examples: ['123', 123],
};
const userIdQuery = {
  name: 'user_id',
  in: 'query',
  required: false,
  allowEmptyValue: true,
  description:
    'AgentHub user id the request is about; defaults to the caller (also when empty). A user may only name themselves (403 otherwise, whether or not the invoice exists); admin and service tokens may name anyone, and get 404 when the invoice is not that user\'s. `123` and `"123"` name the same user.',
  schema: userId,
};
const invoiceIdPath = {
  name: 'invoice_id',
  in: 'path',
  required: true,
  description: 'Invoice id (UUID). Another user’s invoice answers 404 exactly like a missing one.',
  schema: { type: 'string' },
};

/** A cancellation reason: its length is the service's rule, so it answers 422 `validation_error` like GraphQL. */
const reason = {
  type: 'string',
  maxLength: 500,
  ...storable,
  'x-error': { status: 422, code: 'validation_error', keywords: ['maxLength'] },
};

const amount = {
  type: 'number',
  description:
    'Major units of `currency`, written with exactly the currency’s decimals from integer minor units (e.g. 25.50, 1500 for JPY); parse as a decimal for exact arithmetic.',
};
/**
 * An item of a usage batch is a `UsageEvent`, but each is checked on its own by the service: one that does not fit is
 * reported in `rejected` by its index and the others are stored, so the batch itself accepts any item.
 */
const usageEventItem = {
  description:
    'A `UsageEvent`. Each event is checked on its own: one that does not fit is reported in `rejected` by its index, and the others are stored.',
};
const dateTime = { type: ['string', 'null'], format: 'date-time' };
/** An amount to refund or credit, in integer minor units of the invoice's currency (250 = $2.50). */
const minorAmount = {
  type: 'integer',
  minimum: 1,
  maximum: Number.MAX_SAFE_INTEGER,
  'x-error': { status: 422, code: 'validation_error', keywords: ['minimum', 'maximum', 'type'] },
};
const idempotencyKey = {
  type: 'string',
  minLength: 1,
  maxLength: 100,
  pattern: '^[\\x21-\\x7e]+$',
  'x-error': { status: 422, code: 'validation_error', keywords: ['minLength', 'maxLength', 'pattern'] },
  description: 'Repeating a request with the same key on the same invoice answers the same credit note',
};

/** The request's idempotency key as the header Stripe's API uses; `idempotency_key` in the body is the same. */
const idempotencyKeyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description:
    'One key per intended refund or credit (e.g. per form submission); required here or as `idempotency_key` in the body. A retry with the same key answers the same credit note, never a second; a key reused for another request answers 400.',
  schema: idempotencyKey,
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'AgentHub Billing — payment guide REST API',
    version: '1.0.0',
    description:
      'REST routes of the payment integration guide, usage ingestion and the Stripe webhook intake, served beside GraphQL from the same services. Every route except this document and the webhook routes needs `Authorization: Bearer <JWT>`. Every failure, on every route, answers `{ "success": false, "error": { "code", "message" } }` with a snake_case code.',
  },
  servers: [{ url: '/' }],
  security: [{ bearerAuth: [] }],
  paths: {
    '/api/v1/openapi.json': {
      get: {
        operationId: 'getOpenApiDocument',
        summary: 'This document',
        security: [],
        responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 document') },
      },
    },
    '/api/v1/billing/invoice/{month}/create': {
      post: {
        operationId: 'createInvoice',
        summary: 'Create (or return) the invoice of an ended month',
        description:
          'Idempotent: while a non-void invoice exists for the user and month it is returned. If Stripe fails midway, 503; sending the same request again resumes the invoice.',
        parameters: [
          {
            name: 'month',
            in: 'path',
            required: true,
            description: 'Billing month, YYYY-MM (UTC), from 2000 to 2999',
            schema: { type: 'string', pattern: '^2\\d{3}-(0[1-9]|1[0-2])$', 'x-error': { code: 'invalid_month' } },
          },
          userIdQuery,
        ],
        responses: {
          '200': json(ref('InvoiceSuccess'), 'The invoice, open and sent with its payment URL'),
          '400': error('Malformed month (`invalid_month`) or query parameter (`invalid_request`)'),
          ...COMMON,
          '404': error('Admin/service: no customer with that `user_id` (`not_found`)'),
          '409': error(
            'The invoice was cancelled while it was being created (`invalid_state`, status `void`); nothing is payable in Stripe and a new request bills the usage',
          ),
          '422': error(
            'No usage to bill (`no_billable_usage`), the month has not ended (`period_not_ended`), or Stripe refuses ' +
              'the amount (`stripe_refused_amount`, with `invoice_id`, `status` and `stripe_code`): the invoice stays ' +
              'a draft, nothing is charged',
          ),
          '503': error('Stripe unavailable (`payment_provider_unavailable`); retry to resume. `Retry-After` is set.'),
        },
      },
    },
    '/api/v1/billing/invoices': {
      get: {
        operationId: 'listInvoices',
        summary: 'Invoices, newest first, with cursor pagination',
        parameters: [
          {
            ...userIdQuery,
            description: `${userIdQuery.description} Admin and service tokens without it list every user's invoices.`,
          },
          {
            name: 'limit',
            in: 'query',
            required: false,
            allowEmptyValue: true,
            description: 'Page size; empty means the default',
            schema: { type: 'integer', minimum: 1, maximum: 100, default: 50, 'x-error': { code: 'invalid_limit' } },
          },
          {
            name: 'cursor',
            in: 'query',
            required: false,
            allowEmptyValue: true,
            description: 'The `next_cursor` of the previous page (an empty one is the first page)',
            schema: { type: 'string', maxLength: 500, ...storable },
          },
        ],
        responses: {
          '200': json(ref('InvoiceList'), 'A page of invoices'),
          '400': error('Bad `limit` (`invalid_limit`), `cursor` (`invalid_cursor`) or query parameter'),
          ...COMMON,
        },
      },
    },
    '/api/v1/billing/invoice/{invoice_id}': {
      get: {
        operationId: 'getInvoice',
        summary: 'One invoice with its status, amounts and lines',
        parameters: [invoiceIdPath, userIdQuery],
        responses: {
          '200': json(ref('InvoiceDetailSuccess'), 'The invoice'),
          '400': error('Malformed query parameter (`invalid_request`)'),
          ...COMMON,
          '404': error('No such invoice for this caller (`not_found`)'),
        },
      },
    },
    '/api/v1/billing/invoice/{invoice_id}/pay': {
      post: {
        operationId: 'payInvoice',
        summary: 'Pay an invoice with a Stripe payment method id',
        description:
          'One attempt at a time per invoice; concurrent calls never charge twice. A decline and 3-D Secure both answer 402 (the invoice is not paid) with distinct codes.',
        parameters: [
          invoiceIdPath,
          {
            ...userIdQuery,
            description: `${userIdQuery.description} The body's \`user_id\`, as the guide sends it, wins.`,
          },
        ],
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('PayRequest') } },
        },
        responses: {
          '200': json(ref('InvoiceSuccess'), 'Paid: `status` is "paid", `amount_paid` the amount charged'),
          '400': error(
            'Malformed JSON (`invalid_json`) or body (`invalid_request`), e.g. no `payment_method_id`, or a `user_id` that is neither a string nor a whole number',
          ),
          ...COMMON,
          '402': json(
            ref('PaymentError'),
            '`card_declined` (with `decline_code`; status "payment_failed", paying again is allowed) or `requires_action` (3-D Secure: `client_secret` for Stripe.js, or finish on `payment_url`)',
          ),
          '404': error('No such invoice for this caller (`not_found`)'),
          '429': error(
            'Too many failed payment attempts (`payment_attempts_exceeded`, card testing): on this invoice (`scope` "invoice", `PAYMENT_DECLINE_LIMIT_PER_INVOICE` in `PAYMENT_DECLINE_WINDOW_INVOICE_S`) or by its owner (`scope` "user"); nothing is sent to Stripe. `resets_at` and `Retry-After` say when paying is allowed again; an admin may lift the limit sooner',
          ),
          '409': error(
            'The invoice cannot be paid now (`invalid_state`): paid, void, draft, or a payment in progress; or its Stripe invoice does not total ours (`total_mismatch`, with `amount` and `stripe_amount`): nothing is charged, reconciliation reissues it',
          ),
          '413': error('Body too large (`payload_too_large`)'),
          '415': error('Unsupported body encoding (`unsupported_media_type`)'),
          '422': error('`payment_method_id` is not a Stripe payment method (`invalid_payment_method`)'),
          '502': error('Stripe refused the request for a reason that is not the client’s (`payment_provider_error`)'),
          '503': error(
            'Stripe did not confirm (`payment_pending`): the invoice is "processing" until Stripe reports the outcome; retrying is safe (Stripe never charges an invoice twice); or Stripe unavailable before any charge (`payment_provider_unavailable`). `Retry-After` is set.',
          ),
        },
      },
    },
    '/api/v1/billing/invoice/{invoice_id}/cancel': {
      post: {
        operationId: 'cancelInvoice',
        summary: 'Void an unpaid invoice',
        parameters: [
          invoiceIdPath,
          userIdQuery,
          {
            name: 'reason',
            in: 'query',
            required: false,
            allowEmptyValue: true,
            description: 'Why (at most 500 characters); may also be sent as a JSON body',
            schema: reason,
          },
        ],
        requestBody: {
          required: false,
          content: { 'application/json': { schema: ref('CancelRequest') } },
        },
        responses: {
          '200': json(ref('CancelSuccess'), 'Voided: `status` is "void"'),
          '400': error('Malformed JSON (`invalid_json`), body or query parameter (`invalid_request`)'),
          ...COMMON,
          '404': error('No such invoice for this caller (`not_found`)'),
          '409': error('The invoice cannot be cancelled (`invalid_state`), e.g. it is paid'),
          '413': error('Body too large (`payload_too_large`)'),
          '415': error('Unsupported body encoding (`unsupported_media_type`)'),
          '422': error('`reason` is too long (`validation_error`)'),
          '503': error('Stripe unavailable (`payment_provider_unavailable`); retry. `Retry-After` is set.'),
        },
      },
    },
    '/api/v1/billing/invoice/{invoice_id}/refund': {
      post: {
        operationId: 'refundInvoice',
        summary: 'Refund a paid invoice (admins)',
        description:
          "A Stripe credit note with a refund to the card that paid: all that is left when `amount_minor` is absent, never more than was paid less earlier refunds (concurrent refunds included). The invoice stays paid. An idempotency key is required (`Idempotency-Key` header or `idempotency_key`): the same key on the same invoice answers the same refund, never a second. As GraphQL's `refundInvoice`.",
        parameters: [invoiceIdPath, idempotencyKeyHeader],
        requestBody: { required: false, content: { 'application/json': { schema: ref('RefundRequest') } } },
        responses: {
          '200': json(ref('CreditNoteSuccess'), 'Refunded: the credit note and the invoice as it is now'),
          '400': error(
            'Malformed JSON (`invalid_json`) or body, or no idempotency key, or two different ones (`invalid_request`)',
          ),
          ...COMMON,
          '404': error('No such invoice (`not_found`)'),
          '409': error('Only a paid invoice can be refunded (`invalid_state`)'),
          '413': error('Body too large (`payload_too_large`)'),
          '415': error('Unsupported body encoding (`unsupported_media_type`)'),
          '422': error(
            'More than can be refunded (`amount_exceeded`, with `available` in major units), or a bad amount, reason or key (`validation_error`)',
          ),
          '502': error('Stripe refused the credit note (`credit_note_refused`): nothing was refunded'),
          '503': error(
            'Stripe unavailable (`payment_provider_unavailable`): retry with the same `idempotency_key`. `Retry-After` is set.',
          ),
        },
      },
    },
    '/api/v1/billing/invoice/{invoice_id}/credit-notes': {
      post: {
        operationId: 'createCreditNote',
        summary: 'Lower what an unpaid invoice asks (admins and services)',
        description:
          "A Stripe pre-payment credit note, by some of the invoice's lines (`lines`, each at most what is left of its line) or by an amount (`amount_minor`), never more than is still due. An idempotency key is required, as for refunds. As GraphQL's `createCreditNote`.",
        parameters: [invoiceIdPath, idempotencyKeyHeader],
        requestBody: { required: true, content: { 'application/json': { schema: ref('CreditNoteRequest') } } },
        responses: {
          '200': json(ref('CreditNoteSuccess'), 'Credited: the credit note and the invoice as it is now'),
          '400': error(
            'Malformed JSON (`invalid_json`) or body, or no idempotency key, or two different ones (`invalid_request`)',
          ),
          ...COMMON,
          '404': error('No such invoice (`not_found`)'),
          '409': error('The invoice is not open, payment failed or uncollectible (`invalid_state`)'),
          '413': error('Body too large (`payload_too_large`)'),
          '415': error('Unsupported body encoding (`unsupported_media_type`)'),
          '422': error(
            'More than is due or left of a line (`amount_exceeded`, with `available`), or bad lines, amount, reason or key (`validation_error`)',
          ),
          '502': error('Stripe refused the credit note (`credit_note_refused`): nothing was credited'),
          '503': error(
            'Stripe unavailable (`payment_provider_unavailable`): retry with the same `idempotency_key`. `Retry-After` is set.',
          ),
        },
      },
    },
    '/api/v1/billing/payment-attempt-blocks': {
      get: {
        operationId: 'listPaymentAttemptBlocks',
        summary: 'Payment attempt limits reached now (admins)',
        description:
          'What `payInvoice` refuses with 429 `payment_attempts_exceeded` (card testing): every limit reached now, per invoice then per user, soonest reset first. The same as the `paymentAttemptBlocks` GraphQL query.',
        parameters: [
          {
            name: 'user_id',
            in: 'query',
            required: false,
            allowEmptyValue: true,
            description: "Only this user's limits (their invoices' and their own); all users' when absent or empty",
            schema: userId,
          },
        ],
        responses: {
          '200': json(ref('PaymentAttemptBlockList'), 'The limits reached now (an empty list when none)'),
          '400': error('Malformed query parameter (`invalid_request`)'),
          '401': COMMON['401'],
          '403': error('The caller is not an admin (`forbidden`)'),
          '500': COMMON['500'],
        },
      },
    },
    '/api/v1/billing/payment-attempt-limits/lift': {
      post: {
        operationId: 'liftPaymentAttemptLimit',
        summary: 'Lift a payment attempt limit (admins)',
        description:
          'Lifts the limit of one invoice (`invoice_id`) or of a user and all of their invoices (`user_id`): failed attempts before now stop counting; the attempts themselves are kept. Recorded with who lifted it and why, and logged. The same as the `liftPaymentAttemptLimit` GraphQL mutation. Lifting where no limit is reached is allowed (it is recorded too).',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: ref('LiftRequest') } },
        },
        responses: {
          '200': json(ref('LiftSuccess'), 'Lifted: paying is allowed again'),
          '400': error('Malformed JSON (`invalid_json`) or body (`invalid_request`)'),
          '401': COMMON['401'],
          '403': error('The caller is not an admin (`forbidden`)'),
          '404': error('No such invoice, or no such user (`not_found`)'),
          '413': error('Body too large (`payload_too_large`)'),
          '415': error('Unsupported body encoding (`unsupported_media_type`)'),
          '422': error(
            'Neither or both of `invoice_id` and `user_id`, or a `reason` over 500 characters (`validation_error`)',
          ),
          '500': COMMON['500'],
        },
      },
    },
    '/api/v1/usage': {
      post: {
        operationId: 'recordUsage',
        summary: 'Record usage events (roles service and admin)',
        description:
          'The same ingestion as the `recordUsage` mutation: up to 10,000 events per call, each validated on its own. Invalid events are reported by index and the valid ones stored; a repeated `idempotencyKey` (per user) is counted as a duplicate, not stored again.',
        requestBody: { required: true, content: { 'application/json': { schema: ref('UsageRequest') } } },
        responses: {
          '200': json(ref('UsageResult'), 'What was stored, what was a duplicate, what was rejected and why'),
          '400': error(
            'Not a JSON array of events or `{ "events": [...] }` (`invalid_request`), malformed JSON (`invalid_json`), over 10,000 events',
          ),
          '401': COMMON['401'],
          '403': error('The caller is neither service nor admin (`forbidden`)'),
          '413': error('Body too large (`payload_too_large`, 16 MB)'),
          '415': error('Unsupported body encoding (`unsupported_media_type`)'),
          '500': COMMON['500'],
        },
      },
    },
    '/api/v1/webhooks/stripe': {
      post: {
        operationId: 'receiveStripeWebhook',
        summary: 'Stripe webhook intake (Stripe calls it; no Bearer token)',
        description:
          'The raw body is verified with the `Stripe-Signature` header (300 s tolerance), stored, then acknowledged. A redelivered event is acknowledged again and not stored twice. Per-IP limit: 429 with `Retry-After`.',
        security: [],
        parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
        responses: {
          '200': json(ref('WebhookAck'), 'Stored (or already stored): Stripe stops retrying'),
          '400': error(
            'Missing, malformed, wrong or stale signature (`missing_signature`, `malformed_signature`, `invalid_signature`, `stale_signature`, `future_signature`), an empty or unstorable payload (`empty_payload`, `malformed_payload`), or a body already parsed by another middleware (`raw_body_required`); nothing stored',
          ),
          '413': error('Body over 1 MB (`payload_too_large`)'),
          '429': error('Over the per-IP limit (`rate_limited`); `Retry-After` says when to try again'),
          '500': error('The event could not be stored (`internal_error`); Stripe delivers it again'),
          '503': error('No webhook signing secret is configured (`webhook_secret_not_configured`)'),
        },
      },
    },
    '/api/v1/webhooks/health': {
      get: {
        operationId: 'webhookHealth',
        summary: 'Webhook intake health (no token)',
        security: [],
        responses: {
          '200': json(ref('WebhookHealth'), 'Healthy'),
          '503': json(
            ref('WebhookHealth'),
            'Unhealthy: `problems` says why (no secret, failed events, a backlog too old, the database unreachable)',
          ),
        },
      },
    },
    ...webhookEndpointPaths,
  },
  components: {
    securitySchemes: {
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    },
    schemas: {
      InvoiceStatus: {
        type: 'string',
        description: 'The guide’s vocabulary: "sent" is an open invoice Stripe has e-mailed, "open" one it has not.',
        enum: [
          'draft',
          'open',
          'sent',
          'processing',
          'requires_action',
          'payment_failed',
          'paid',
          'void',
          'uncollectible',
        ],
      },
      Invoice: {
        type: 'object',
        required: [
          'invoice_id',
          'invoice_number',
          'status',
          'amount',
          'currency',
          'is_paid',
          'payment_url',
          'due_date',
        ],
        properties: {
          invoice_id: { type: 'string', format: 'uuid' },
          invoice_number: { type: 'string', examples: ['AH-2024-01-000001-20240201'] },
          user_id: { type: 'string', description: 'Always a string, also when the request named the user as a number' },
          month: { type: 'string', examples: ['2024-01'] },
          status: ref('InvoiceStatus'),
          amount: amount,
          amount_paid: amount,
          currency: { type: 'string', description: 'ISO 4217, lower case', examples: ['usd'] },
          is_paid: { type: 'boolean' },
          payment_url: { type: ['string', 'null'], description: 'Stripe’s hosted invoice page' },
          pdf_url: { type: ['string', 'null'] },
          due_date: dateTime,
          created_at: dateTime,
          paid_at: dateTime,
        },
      },
      InvoiceLine: {
        type: 'object',
        required: ['kind', 'description', 'quantity', 'amount'],
        properties: {
          id: { type: 'string', format: 'uuid', description: 'What a credit note line names (`invoice_line_id`)' },
          kind: { type: 'string', enum: ['usage', 'adjustment'] },
          metric: { type: ['string', 'null'] },
          description: { type: 'string' },
          quantity: { type: 'string', description: 'Exact decimal' },
          unit_amount: { type: ['string', 'null'], description: 'Exact decimal, major units' },
          amount: amount,
        },
      },
      InvoiceDetail: {
        allOf: [
          ref('Invoice'),
          {
            type: 'object',
            required: ['lines'],
            properties: {
              void_reason: { type: ['string', 'null'] },
              lines: { type: 'array', items: ref('InvoiceLine') },
              amount_refunded: { ...amount, description: 'Given back to the card by refunds (the invoice stays paid)' },
              amount_credited: { ...amount, description: 'Taken off what was due by credit notes before payment' },
              credit_notes: { type: 'array', items: ref('CreditNote'), description: 'Oldest first' },
            },
          },
        ],
      },
      Success: {
        type: 'object',
        required: ['success'],
        properties: { success: { const: true } },
      },
      InvoiceSuccess: { allOf: [ref('Success'), ref('Invoice')] },
      InvoiceDetailSuccess: { allOf: [ref('Success'), ref('InvoiceDetail')] },
      CancelSuccess: {
        allOf: [ref('Success'), ref('Invoice'), { type: 'object', properties: { void_reason: { type: 'string' } } }],
      },
      InvoiceList: {
        allOf: [
          ref('Success'),
          {
            type: 'object',
            required: ['invoices', 'next_cursor'],
            properties: {
              invoices: { type: 'array', items: ref('InvoiceDetail') },
              next_cursor: {
                type: ['string', 'null'],
                description: 'Pass as `cursor` for the next page; null at the end',
              },
              total_count: { type: 'integer' },
            },
          },
        ],
      },
      PayRequest: {
        type: 'object',
        description: 'a JSON object with `payment_method_id` and, optionally, `user_id`',
        required: ['payment_method_id'],
        properties: {
          payment_method_id: {
            type: 'string',
            minLength: 1,
            pattern: '^pm_[A-Za-z0-9_]{1,200}$',
            'x-error': { status: 422, code: 'invalid_payment_method', keywords: ['pattern'] },
            description: 'A Stripe payment method id; card numbers are never accepted',
            examples: ['pm_card_visa'],
          },
          user_id: {
            ...userId,
            description:
              'As the `user_id` query parameter (which it overrides): a string, or a JSON number that is a whole number from 0 to 2^53 − 1 (`123` is the user "123")',
          },
        },
      },
      CreditNote: {
        type: 'object',
        required: ['credit_note_id', 'number', 'kind', 'status', 'amount', 'refunded', 'lines'],
        properties: {
          credit_note_id: { type: 'string', format: 'uuid' },
          number: { type: 'string', examples: ['AH-CN-2024-02-000001'] },
          kind: {
            type: 'string',
            enum: ['refund', 'credit'],
            description: 'refund: from a paid invoice to the card; credit: less asked of an unpaid one',
          },
          status: { type: 'string', enum: ['pending', 'issued', 'failed', 'void'] },
          amount: amount,
          refunded: amount,
          reason: { type: ['string', 'null'] },
          lines: {
            type: 'array',
            items: {
              type: 'object',
              required: ['description', 'amount', 'invoice_line_id'],
              properties: {
                description: { type: 'string' },
                amount: amount,
                invoice_line_id: { type: ['string', 'null'] },
              },
            },
          },
          created_at: dateTime,
        },
      },
      CreditNoteSuccess: {
        allOf: [
          ref('Success'),
          {
            type: 'object',
            required: ['credit_note', 'invoice'],
            properties: { credit_note: ref('CreditNote'), invoice: ref('InvoiceDetail') },
          },
        ],
      },
      RefundRequest: {
        type: 'object',
        description: 'a JSON object with optional `amount_minor`, `reason` and `idempotency_key` (or the header)',
        properties: {
          amount_minor: minorAmount,
          reason: { ...reason, description: 'Why (at most 500 characters), on the credit note' },
          idempotency_key: idempotencyKey,
        },
      },
      CreditNoteRequest: {
        type: 'object',
        description: 'a JSON object with `lines` or `amount_minor`, `reason`, and `idempotency_key` (or the header)',
        properties: {
          lines: {
            type: 'array',
            maxItems: 100,
            items: {
              type: 'object',
              required: ['invoice_line_id', 'amount_minor'],
              properties: { invoice_line_id: { type: 'string', maxLength: 100 }, amount_minor: minorAmount },
            },
          },
          amount_minor: minorAmount,
          reason: { ...reason, description: 'Why (at most 500 characters), on the credit note' },
          idempotency_key: idempotencyKey,
        },
      },
      CancelRequest: {
        type: 'object',
        description: 'a JSON object with an optional `reason` and `user_id`',
        properties: {
          reason: reason,
          user_id: { ...userId, description: 'As in `PayRequest`; overrides the `user_id` query parameter' },
        },
      },
      PaymentAttemptBlock: {
        type: 'object',
        description: 'A payment attempt limit reached: paying is refused until `resets_at`, or a lift',
        required: ['scope', 'user_id', 'invoice_id', 'failed_attempts', 'limit', 'window_seconds', 'resets_at'],
        properties: {
          scope: { type: 'string', enum: ['invoice', 'user'], description: "One invoice's limit, or its owner's" },
          user_id: { type: 'string' },
          invoice_id: { type: ['string', 'null'], description: 'The invoice, for scope "invoice"; null for "user"' },
          failed_attempts: {
            type: 'integer',
            description: 'Failed attempts counted in the window, since the last lift',
          },
          limit: { type: 'integer' },
          window_seconds: { type: 'integer' },
          resets_at: {
            type: 'string',
            format: 'date-time',
            description: 'When the oldest counted failure leaves the window',
          },
        },
      },
      PaymentAttemptBlockList: {
        allOf: [
          ref('Success'),
          {
            type: 'object',
            required: ['blocks'],
            properties: { blocks: { type: 'array', items: ref('PaymentAttemptBlock') } },
          },
        ],
      },
      LiftRequest: {
        type: 'object',
        description: 'a JSON object with exactly one of `invoice_id` and `user_id`, and optionally `reason`',
        properties: {
          invoice_id: { type: 'string', maxLength: 500, ...storable, description: 'Lift this invoice’s limit' },
          user_id: {
            ...userId,
            description:
              'Lift this user’s limit and their invoices’ (a string, or a whole JSON number as in `PayRequest`)',
          },
          reason: { ...reason, description: 'Why (at most 500 characters), recorded with the lift' },
        },
      },
      LiftSuccess: {
        allOf: [
          ref('Success'),
          {
            type: 'object',
            required: ['lift'],
            properties: {
              lift: {
                type: 'object',
                required: ['id', 'scope', 'user_id', 'invoice_id', 'lifted_by', 'reason', 'lifted_at'],
                properties: {
                  id: { type: 'string' },
                  scope: { type: 'string', enum: ['invoice', 'user'] },
                  user_id: { type: 'string' },
                  invoice_id: { type: ['string', 'null'] },
                  lifted_by: { type: 'string', description: 'The admin who lifted it (token `sub`)' },
                  reason: { type: ['string', 'null'] },
                  lifted_at: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        ],
      },
      UsageEvent: {
        type: 'object',
        required: ['userId', 'metric', 'quantity', 'occurredAt', 'idempotencyKey'],
        properties: {
          userId: userId,
          metric: { type: 'string', description: 'A catalogue metric code', examples: ['llm_input_tokens'] },
          quantity: {
            type: ['string', 'integer'],
            description:
              'A decimal string (`"12.5"`), or a JSON integer up to 2^53 − 1. COUNT and UNIQUE_COUNT metrics take only 1.',
          },
          occurredAt: { type: 'string', format: 'date-time', description: 'ISO 8601 with its time zone' },
          idempotencyKey: { type: 'string', maxLength: 255, description: 'Unique per user: a repeat is a duplicate' },
          agentId: { type: ['string', 'null'] },
          metadata: { type: ['object', 'null'] },
        },
      },
      UsageRequest: {
        // One schema for both forms: `items`/`maxItems` apply only to an array, `required`/`properties` to an object.
        description: 'a JSON array of usage events or { "events": [...] }',
        type: ['array', 'object'],
        items: usageEventItem,
        maxItems: 10000,
        required: ['events'],
        properties: { events: { type: 'array', items: usageEventItem, maxItems: 10000 } },
      },
      UsageResult: {
        allOf: [
          ref('Success'),
          {
            type: 'object',
            required: ['accepted', 'duplicates', 'rejected', 'late'],
            properties: {
              accepted: { type: 'integer', description: 'Events stored now' },
              duplicates: { type: 'integer', description: 'Events whose idempotency key was already stored' },
              late: {
                type: 'integer',
                description: 'Accepted events of a period already invoiced (billed on the next invoice)',
              },
              rejected: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['index', 'code', 'message'],
                  properties: {
                    index: { type: 'integer', description: 'Position of the event in the request' },
                    code: { type: 'string', examples: ['UNKNOWN_METRIC', 'QUANTITY_MUST_BE_ONE'] },
                    message: { type: 'string' },
                  },
                },
              },
            },
          },
        ],
      },
      WebhookAck: {
        type: 'object',
        required: ['received', 'duplicate'],
        properties: { received: { const: true }, duplicate: { type: 'boolean' } },
      },
      WebhookHealth: {
        type: 'object',
        required: [
          'status',
          'problems',
          'secretConfigured',
          'secretCount',
          'lastEventSecretIndex',
          'database',
          'pendingCount',
          'failedCount',
        ],
        properties: {
          status: { type: 'string', enum: ['ok', 'unhealthy'] },
          problems: { type: 'array', items: { type: 'string' } },
          secretConfigured: { type: 'boolean' },
          secretWellFormed: { type: 'boolean' },
          secretCount: {
            type: 'integer',
            minimum: 0,
            description: 'How many signing secrets `STRIPE_WEBHOOK_SECRET` lists (two while one is rolled)',
          },
          lastEventSecretIndex: {
            type: ['integer', 'null'],
            minimum: 0,
            description:
              "Which secret (0 = the first listed; never the secret itself) verified this instance's last event; null before the first",
          },
          stripeMode: { type: 'string', enum: ['live', 'test', 'emulator'] },
          database: { type: 'string', enum: ['ok', 'unreachable'] },
          lastEventReceivedAt: dateTime,
          pendingCount: { type: ['integer', 'null'] },
          oldestPendingAgeSeconds: { type: ['number', 'null'] },
          failedCount: { type: ['integer', 'null'] },
        },
      },
      Error: {
        type: 'object',
        required: ['success', 'error'],
        properties: {
          success: { const: false },
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', description: 'snake_case, stable' },
              message: { type: 'string' },
              param: { type: 'string', description: 'The parameter at fault, for validation errors' },
              status: ref('InvoiceStatus'),
              invoice_id: { type: 'string' },
              month: { type: 'string' },
              scope: { type: 'string', enum: ['invoice', 'user'], description: 'Which attempt limit was reached' },
              failed_attempts: { type: 'integer' },
              limit: { type: 'integer' },
              window_seconds: { type: 'integer' },
              resets_at: { type: 'string', format: 'date-time', description: 'When paying is allowed again' },
            },
            additionalProperties: true,
          },
        },
      },
      PaymentError: {
        allOf: [
          ref('Error'),
          {
            type: 'object',
            properties: {
              error: {
                type: 'object',
                properties: {
                  code: { type: 'string', examples: ['card_declined', 'requires_action'] },
                  decline_code: { type: ['string', 'null'], examples: ['insufficient_funds'] },
                  client_secret: { type: ['string', 'null'] },
                  payment_url: { type: ['string', 'null'] },
                },
              },
            },
          },
        ],
      },
      ...webhookEndpointSchemas,
    },
  },
} as const;

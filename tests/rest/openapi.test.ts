import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { AppConfig } from '../../src/config/config';
import type { Database } from '../../src/entities/orm';
import { billingRouter } from '../../src/http/billing.routes';
import { usageRouter } from '../../src/http/usage.route';
import { webhookEndpointRouter } from '../../src/http/webhook-endpoints.routes';
import { webhookRouter } from '../../src/webhooks/webhook.router';
import { WebhookSecretUsage } from '../../src/webhooks/stripe-intake';
import type { StripeIntake } from '../../src/webhooks/stripe-intake';
import { openApiDocument } from '../../src/http/openapi';
import type { TokenVerifier } from '../../src/services/customers/auth.service';
import type { StripeGateway } from '../../src/stripe';
import type { SecretBox } from '../../src/lib/secret-box';

// Nothing here reaches a service: the routers are only walked for their routes.
const verify = (() => Promise.reject(new Error('not used'))) as TokenVerifier;
const routers = [
  billingRouter({ db: {} as Database, verify, gateway: {} as StripeGateway, config: {} as AppConfig }),
  usageRouter({} as Database, verify),
  webhookEndpointRouter({ db: {} as Database, verify, config: {} as AppConfig, secretBox: {} as SecretBox }),
  webhookRouter({
    db: {} as Database,
    config: {} as AppConfig,
    intake: (() => Promise.resolve()) as unknown as StripeIntake,
    secretUsage: new WebhookSecretUsage(),
    maxPendingAgeSeconds: 60,
  }),
];
const router = { stack: routers.flatMap((r) => r.stack) };

interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** "METHOD /path/{param}" for every route the Express router really serves. */
function servedRoutes(): string[] {
  return (router.stack as RouteLayer[])
    .filter((layer) => layer.route)
    .flatMap((layer) => {
      const route = layer.route as NonNullable<RouteLayer['route']>;
      const path = route.path.replace(/:(\w+)/g, '{$1}');
      return Object.keys(route.methods)
        .filter((method) => route.methods[method])
        .map((method) => `${method.toUpperCase()} ${path}`);
    })
    .sort();
}

type Operation = {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: unknown }>;
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
};
const paths = openApiDocument.paths as unknown as Record<string, Record<string, Operation>>;
const operations = Object.entries(paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
);

describe('the OpenAPI document of the payment guide routes', () => {
  it('is an OpenAPI 3.1 document with bearer security', () => {
    expect(openApiDocument.openapi).toBe('3.1.0');
    expect(openApiDocument.info.title).toEqual(expect.any(String));
    expect(openApiDocument.info.version).toEqual(expect.any(String));
    expect(openApiDocument.components.securitySchemes.bearerAuth).toEqual({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    // The whole document must survive JSON (no functions, bigints or undefined values).
    expect(JSON.parse(JSON.stringify(openApiDocument))).toEqual(openApiDocument);
  });

  it("describes exactly the router's routes and methods", () => {
    const documented = operations.map(({ path, method }) => `${method.toUpperCase()} ${path}`).sort();
    expect(documented).toEqual(servedRoutes());
    expect(servedRoutes()).toEqual(
      [
        'GET /api/v1/billing/invoice/{invoice_id}',
        'GET /api/v1/billing/invoices',
        'GET /api/v1/billing/payment-attempt-blocks',
        'GET /api/v1/openapi.json',
        'GET /api/v1/webhooks/health',
        'POST /api/v1/billing/invoice/{invoice_id}/cancel',
        'POST /api/v1/billing/invoice/{invoice_id}/credit-notes',
        'POST /api/v1/billing/invoice/{invoice_id}/pay',
        'POST /api/v1/billing/invoice/{invoice_id}/refund',
        'POST /api/v1/billing/invoice/{month}/create',
        'POST /api/v1/billing/payment-attempt-limits/lift',
        'POST /api/v1/usage',
        'POST /api/v1/webhooks/stripe',
        'GET /api/v1/webhook-endpoints',
        'POST /api/v1/webhook-endpoints',
        'GET /api/v1/webhook-endpoints/{endpoint_id}',
        'PATCH /api/v1/webhook-endpoints/{endpoint_id}',
        'POST /api/v1/webhook-endpoints/{endpoint_id}/disable',
        'POST /api/v1/webhook-endpoints/{endpoint_id}/enable',
        'POST /api/v1/webhook-endpoints/{endpoint_id}/rotate-secret',
        'GET /api/v1/webhook-endpoints/{endpoint_id}/deliveries',
        'POST /api/v1/webhook-endpoints/{endpoint_id}/replay',
        'POST /api/v1/webhook-deliveries/{delivery_id}/replay',
      ].sort(),
    );
  });

  it.each(operations.map((o) => [`${o.method.toUpperCase()} ${o.path}`, o] as const))(
    '%s declares its path parameters and gives every response a description and a JSON schema',
    (_name, { path, operation }) => {
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (operation.parameters ?? []).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort()).toEqual(templated);
      expect(declared.every((p) => p.required === true)).toBe(true);
      for (const parameter of operation.parameters ?? []) {
        expect(parameter.schema).toBeDefined();
      }
      expect(Object.keys(operation.responses)).toContain('200');
      for (const [status, response] of Object.entries(operation.responses)) {
        expect(status).toMatch(/^[1-5]\d\d$/);
        expect(response.description).toEqual(expect.any(String));
        expect(response.content?.['application/json']?.schema).toBeDefined();
      }
      if (operation.requestBody) {
        expect(operation.requestBody.content['application/json'].schema).toBeDefined();
      }
    },
  );

  it('documents 401 on every route behind a token, and the one error schema on every failure', () => {
    for (const { path, operation } of operations) {
      const open = (operation as { security?: unknown[] }).security?.length === 0;
      const failures = Object.entries(operation.responses).filter(([status]) => Number(status) >= 400);
      if (!open) {
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['401', '403', '500']));
      }
      for (const [, response] of failures) {
        if (path === '/api/v1/webhooks/health') {
          continue; // its 503 is the health report itself
        }
        const schema = response.content?.['application/json']?.schema as { $ref?: string };
        expect(['#/components/schemas/Error', '#/components/schemas/PaymentError']).toContain(schema.$ref);
      }
    }
  });

  it('documents user_id as a string or a whole number wherever a route reads it, query or JSON body', () => {
    const schemas = openApiDocument.components.schemas as Record<string, { properties?: Record<string, unknown> }>;
    const found: string[] = [];
    for (const { path, method, operation } of operations) {
      for (const parameter of operation.parameters ?? []) {
        if (parameter.name === 'user_id') {
          found.push(`${method} ${path} query`);
          expect(parameter.schema).toMatchObject({ type: ['string', 'integer'], minimum: 0 });
        }
      }
      const body = operation.requestBody?.content['application/json'].schema as { $ref?: string } | undefined;
      if (body?.$ref && path.startsWith('/api/v1/billing/')) {
        const property = schemas[(body.$ref as string).replace('#/components/schemas/', '')].properties?.user_id;
        // Refunds and credit notes are admin acts on an invoice by id: their bodies name no user (the list below
        // says exactly which bodies do).
        if (property === undefined) {
          continue;
        }
        found.push(`${method} ${path} body`);
        expect(property).toMatchObject({ type: ['string', 'integer'], minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
      }
    }
    const event = schemas.UsageEvent.properties?.userId;
    expect(event).toMatchObject({ type: ['string', 'integer'], minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
    // Every route that names a user reads the query; those with a JSON body (pay, cancel) read it there too, and
    // lifting a limit reads it only there.
    expect(found.sort()).toEqual(
      [
        'post /api/v1/billing/invoice/{month}/create query',
        'get /api/v1/billing/invoices query',
        'get /api/v1/billing/invoice/{invoice_id} query',
        'post /api/v1/billing/invoice/{invoice_id}/pay query',
        'post /api/v1/billing/invoice/{invoice_id}/pay body',
        'post /api/v1/billing/invoice/{invoice_id}/cancel query',
        'post /api/v1/billing/invoice/{invoice_id}/cancel body',
        'get /api/v1/billing/payment-attempt-blocks query',
        'post /api/v1/billing/payment-attempt-limits/lift body',
      ].sort(),
    );
  });

  it('resolves every $ref', () => {
    const schemas = openApiDocument.components.schemas as Record<string, unknown>;
    const refs = [...JSON.stringify(openApiDocument).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)];
    expect(refs.length).toBeGreaterThan(10);
    for (const [, name] of refs) {
      expect(schemas[name]).toBeDefined();
    }
  });

  it('is served without a token at /api/v1/openapi.json', async () => {
    const app = express().use(routers[0]);
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual(openApiDocument);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/**
 * `@supabase/stripe-sync-engine` (0.48.5, a dev dependency) as a webhook receiver, for scripts/bench-webhooks.ts: a
 * bare `node:http` server that hands each POST's raw body and `Stripe-Signature` to `StripeSync.processWebhook`
 * (its signature check with `constructEventAsync`, then its upsert of the event's object into its own tables) and
 * answers 200 `{"received":true}` after it, 400 when the signature is refused, as its own Fastify app does. Its
 * migrations (`runMigrations`) make its `stripe` schema in the database given, which must be one of its own.
 *
 * Offline: with `revalidateObjectsViaStripeApi` unset, `autoExpandLists` and `backfillRelatedEntities` off, an
 * `invoice.*` event is stored from the webhook's own data, so the secret key is never used and Stripe never called.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { StripeSync, runMigrations } from '@supabase/stripe-sync-engine';

const SCHEMA = 'stripe';

export interface BenchServer {
  url: string;
  close(): Promise<void>;
}

export async function stripeSyncServer(databaseUrl: string, secret: string): Promise<BenchServer> {
  // runMigrations logs and swallows its errors (to the logger it is given, none here): check what it made.
  await runMigrations({ databaseUrl, schema: SCHEMA });
  const check = new Client({ connectionString: databaseUrl });
  await check.connect();
  try {
    const { rows } = await check.query<{ table: string | null }>(`select to_regclass('${SCHEMA}.invoices') as table`);
    if (!rows[0]?.table) {
      throw new Error(`stripe-sync-engine's migrations did not create ${SCHEMA}.invoices`);
    }
  } finally {
    await check.end();
  }
  const sync = new StripeSync({
    schema: SCHEMA,
    stripeSecretKey: 'sk_test_bench_unused',
    stripeWebhookSecret: secret,
    // Its default pool size, as the baseline's and ours.
    poolConfig: { connectionString: databaseUrl, max: 10 },
  });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      sync.processWebhook(Buffer.concat(chunks), String(req.headers['stripe-signature'])).then(
        () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}'),
        (error: unknown) => {
          const signature = error instanceof Error && error.constructor.name === 'StripeSignatureVerificationError';
          res.writeHead(signature ? 400 : 500).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sync.close();
    },
  };
}

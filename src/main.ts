// First: when traces are on, the instrumentations must be registered before http, express, pg and graphql load.
import { shutdownTracing, tracingEnabled } from './tracing';
import 'reflect-metadata';
import path from 'node:path';
import { ConfigError, loadConfig } from './config/config';
import type { AppConfig } from './config/config';
import { createLogger } from './config/logger';
import { migrate, openDatabase } from './entities/orm';
import { ensurePrivateDir } from './lib/private-files';
import type { RunningEmulator } from '../emulator/server';
import { startLocalStripe } from './dev-stripe';
import { createServer } from './server';
import { billingSchedulerSettings, startBillingScheduler } from './services/billing-runs/billing-scheduler';
import { seedDefaultCatalogue } from './services/usage/seed-catalogue.service';
import { ensureUsagePartitionsAhead } from './services/usage/usage-partitions';
import { gatewayFromConfig } from './stripe/gateway-from-config';
import { devSecretPath } from './services/customers/auth.service';
import { reencryptEndpointSecrets } from './services/outgoing-webhooks/endpoint-secrets';
import { devSecretsKeyPath, secretBoxFromConfig } from './services/shared/secrets-at-rest';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n\nSee .env.example for every variable. Nothing was started.\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config);
  let emulator: RunningEmulator | undefined;
  if (config.stripe.mode === 'emulator' && !config.stripe.apiBase) {
    ({ config, emulator } = await startLocalStripe(config));
    log.info({ url: emulator.url }, 'local Stripe emulator started (no STRIPE_SECRET_KEY set)');
  }

  ensurePrivateDir(config.dataDir);
  log.info(
    { database: config.databaseUrl ? 'PostgreSQL' : `embedded PGlite (${config.dataDir}/pglite)` },
    'opening the database and applying migrations',
  );
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDataDir: path.join(config.dataDir, 'pglite'),
    poolMax: config.databasePoolMax,
    statementPoolMax: config.databaseStatementPoolMax,
  });
  const applied = await migrate(db.orm);
  // The usage events' monthly partitions, this month's and the next ones (usage-partitions.ts).
  await ensureUsagePartitionsAhead(db.orm.em.fork(), new Date(), config.billing.usagePartitionsAhead);
  if (db.kind === 'pglite') {
    // The embedded demo starts with AgentHub's default metrics and list prices, so usage can be priced at once.
    const seeded = await seedDefaultCatalogue(db.orm.em.fork(), { currency: config.billing.defaultCurrency });
    if (seeded.length > 0) {
      log.info({ metrics: seeded }, 'seeded the default metric catalogue and prices');
    }
  }
  // Signing secrets stored in plain text by an earlier version are sealed now (idempotent; re-sealing under a newer
  // key is the operator's `webhook-endpoints reencrypt`, once every instance knows that key).
  const sealed = await reencryptEndpointSecrets(db.orm.em.fork(), secretBoxFromConfig(config), {
    allKeys: false,
    now: new Date(),
  });
  if (sealed.endpoints > 0) {
    log.info(
      { endpoints: sealed.endpoints, secrets: sealed.secrets, kid: sealed.kid },
      'sealed the plain-text signing secrets of outgoing webhook endpoints',
    );
  }
  if (!config.secretsEncryptionKeys) {
    log.info(
      { keyFile: devSecretsKeyPath(config) },
      'SECRETS_ENCRYPTION_KEYS is not set: stored signing secrets are sealed with the development key (refused in production)',
    );
  }
  log.info(
    { database: db.kind === 'pglite' ? `embedded PGlite (${config.dataDir}/pglite)` : 'PostgreSQL', applied },
    'database ready',
  );

  // One gateway (one rate limiter, one share of Stripe's budget) for the API and the billing scheduler.
  const gateway = gatewayFromConfig(config);
  const server = await createServer({ config, db, logger: log, gateway });
  const url = await server.listen();
  const { concurrency, ...schedule } = billingSchedulerSettings(config.scheduler);
  const scheduler = startBillingScheduler({ em: db.orm.em, gateway, config, log, ...schedule, run: { concurrency } });
  emulator?.setWebhookTarget(`http://127.0.0.1:${new URL(url).port}/api/v1/webhooks/stripe`);
  log.info(
    { url: `${url}/graphql`, stripeMode: config.stripe.mode, traces: tracingEnabled() ? 'OTLP' : 'off' },
    'AgentHub Billing is listening',
  );

  if (!config.auth.jwtSecret && !config.auth.jwksUrl) {
    process.stdout.write(
      `\nAgentHub Billing at ${url}/graphql (development JWT secret in ${devSecretPath(config)}).\n` +
        `Mint a token:  npm run token -- --sub 123 --role admin\n` +
        `Then:          curl -s ${url}/graphql -H "Authorization: Bearer $TOKEN" ` +
        `-H 'content-type: application/json' -d '{"query":"{ me { id userId } }"}'\n\n`,
    );
  }

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, 15_000);
    force.unref();
    server
      .close()
      .then(() => {
        log.info('http and websocket servers closed');
        return scheduler.stop();
      })
      .then(() => emulator?.stop())
      .then(() => db.close())
      // The spans still buffered are sent before exiting.
      .then(() => shutdownTracing())
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        log.error({ err: error }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** A port already taken is the commonest start failure: say which setting moves it. */
function startFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const { code, port } = (error ?? {}) as { code?: string; port?: number };
  if (code !== 'EADDRINUSE') {
    return message;
  }
  const config = (() => {
    try {
      return loadConfig();
    } catch {
      return undefined;
    }
  })();
  const setting =
    config && port === config.stripe.emulatorPort
      ? 'STRIPE_EMULATOR_PORT (the local Stripe)'
      : config && port === config.port
        ? 'PORT (the server)'
        : 'PORT or STRIPE_EMULATOR_PORT';
  return `${message}: port ${port} is in use (another \`npm start\`?). Stop it, or set ${setting} to a free port.`;
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${startFailure(error)}\n`);
  process.exit(1);
});

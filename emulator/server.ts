import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ApiRouter } from './api';
import { Emulator } from './context';
import type { EmulatorClock } from './time';
import { registerCharges } from './charge-routes';
import { registerCreditNotes } from './credit-note-routes';
import { controlRouter } from './control';
import { registerCustomers } from './customers';
import { registerCustomerBalance } from './customer-balance-routes';
import { registerEvents } from './events';
import { hostedRouter } from './hosted';
import { registerInvoiceActions } from './invoice-actions';
import { registerInvoiceEdits } from './invoice-edits';
import { registerInvoiceItems } from './invoice-items';
import { registerInvoiceQueries } from './invoice-queries';
import { registerInvoicePayments } from './invoice-payments';
import { registerInvoices } from './invoices';
import { registerPaymentIntents } from './payment-intent-routes';
import { registerPaymentMethods } from './payment-method-routes';
import { registerRefunds } from './refund-routes';
import { registerSearch } from './search';
import { randomToken } from './util';
import { fidelityGuardFromEnv } from './fidelity/guard';
import { registerWebhookEndpoints } from './webhook-endpoints';
import type { DeliveryModes } from './webhook-signing';
import type { LockModes } from './locks';

export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  host?: string;
  /** Every event is POSTed here, signed with `webhookSecret` (like `stripe listen --forward-to`). */
  webhookUrl?: string;
  /** Secret for `webhookUrl`; generated (`whsec_…`) when absent. */
  webhookSecret?: string;
  /** Requests per second over /v1 before 429 (25 = Stripe test mode, 100 = live). Off when absent. */
  rateLimit?: number;
  /** Load state from this JSON file at start and save it on every change. */
  stateFile?: string;
  /** Base URL of hosted invoice pages; defaults to http://host:port. */
  publicBaseUrl?: string;
  /** Delays between webhook attempts in ms; defaults to Stripe-like backoff up to a day. */
  webhookRetryScheduleMs?: number[];
  /** Webhook attempt timeout in ms (default 10 000). */
  webhookTimeoutMs?: number;
  /** `account_name` on invoices and the hosted page. */
  accountName?: string;
  /** Emulator time and every wait it makes (see `EmulatorConfig.clock`); in-process only. Default: the system's. */
  clock?: EmulatorClock;
  /**
   * Check every response and event against the `stripe` package's schemas (`emulator/fidelity/guard.ts`); a
   * violation is recorded and a response that has one becomes a 500. Default: `STRIPE_FIDELITY_GUARD=1`.
   */
  fidelityGuard?: boolean;
  /**
   * How webhooks are delivered: `{ profile: 'realistic', seed }` delays each delivery on the emulator's clock (up to
   * `maxDelayMs`), so close events arrive in any order, and sends some twice; default `ideal` (once, in order, at once).
   */
  delivery?: Partial<DeliveryModes>;
  /**
   * Per-object write locks: `writeMs`, how long a write holds the locks of the objects it changes before it answers (a
   * concurrent write to one of them gets 429 `lock_timeout`). Default: 5 ms on the realistic profile, else 0.
   */
  locks?: Partial<LockModes>;
}

export interface RunningEmulator {
  /** http://host:port */
  url: string;
  host: string;
  port: number;
  /** Base of the Stripe API (url + /v1). */
  apiBase: string;
  /** Secret that signs deliveries to `webhookUrl`. */
  readonly webhookSecret: string;
  /** Point `webhookUrl` deliveries elsewhere (e.g. once the app knows its port); null stops them. */
  setWebhookTarget(url: string | null, secret?: string): void;
  /** Options for `new Stripe(key, { ...stripeConfig })`. */
  stripeConfig: { host: string; port: number; protocol: 'http' };
  /** Base URL of the control API (`/_emulator`). */
  controlUrl: string;
  /** In-process access to state, clock, chaos and webhooks (tests). */
  emulator: Emulator;
  stop(): Promise<void>;
}

export const DEFAULT_RETRY_SCHEDULE_MS = [
  10_000, 60_000, 300_000, 1_800_000, 3_600_000, 21_600_000, 43_200_000, 86_400_000,
];

export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  const webhookSecret = options.webhookSecret ?? `whsec_${randomToken(32)}`;
  const emu = new Emulator({
    webhookUrl: options.webhookUrl,
    webhookSecret,
    stateFile: options.stateFile,
    publicBaseUrl: options.publicBaseUrl ?? '',
    retryScheduleMs: options.webhookRetryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS,
    webhookTimeoutMs: options.webhookTimeoutMs ?? 10_000,
    accountName: options.accountName ?? 'AgentHub',
    clock: options.clock,
    fidelityGuard: options.fidelityGuard ?? fidelityGuardFromEnv(),
    delivery: options.delivery,
    locks: options.locks,
  });
  if (options.rateLimit) {
    emu.chaos.rateLimit = options.rateLimit;
  }

  const api = new ApiRouter(emu);
  registerSearch(api);
  registerCustomers(api);
  registerCustomerBalance(api);
  registerInvoiceItems(api);
  registerInvoices(api);
  registerInvoiceQueries(api);
  registerInvoiceEdits(api);
  registerInvoiceActions(api);
  registerInvoicePayments(api);
  registerPaymentMethods(api);
  registerPaymentIntents(api);
  registerCharges(api);
  registerRefunds(api);
  registerCreditNotes(api);
  registerEvents(api);
  registerWebhookEndpoints(api);

  const app = express();
  app.disable('x-powered-by');
  app.use('/_emulator', controlRouter(emu, api));
  app.use(hostedRouter(emu));
  app.get('/', (_req, res) => {
    res.json({ name: 'AgentHub local Stripe emulator', api: '/v1', control: '/_emulator' });
  });

  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v1' || url.startsWith('/v1/') || url.startsWith('/v1?')) {
      api.handle(req, res).catch((e: unknown) => {
        process.stderr.write(`[stripe-emulator] request failed: ${e instanceof Error ? e.message : String(e)}\n`);
        if (!res.headersSent) {
          res.writeHead(500).end();
        }
      });
      return;
    }
    app(req, res);
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${urlHost}:${port}`;
  if (!emu.config.publicBaseUrl) {
    emu.config.publicBaseUrl = url;
  }

  let stopped: Promise<void> | null = null;
  return {
    url,
    host,
    port,
    apiBase: `${url}/v1`,
    get webhookSecret() {
      return emu.config.webhookSecret;
    },
    setWebhookTarget(target, secret) {
      emu.setWebhookTarget(target, secret);
    },
    stripeConfig: { host: urlHost.replace(/^\[|\]$/g, ''), port, protocol: 'http' },
    controlUrl: `${url}/_emulator`,
    emulator: emu,
    stop() {
      stopped ??= (async () => {
        api.releaseHanging();
        emu.chaos.releaseAll();
        await emu.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return stopped;
    },
  };
}

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { isSupportedCurrency } from './currencies';
import { parseTrustProxy } from './trust-proxy';
import type { TrustProxySetting } from './trust-proxy';

export type NodeEnv = 'development' | 'test' | 'production';
export type StripeMode = 'emulator' | 'test' | 'live';
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  /** Which proxies' X-Forwarded-For to believe for the client address (per-IP limits, logs). Default: none. */
  trustProxy: TrustProxySetting;
  logLevel: LogLevel;
  /** Folder for embedded defaults (PGlite data, development JWT secret, emulator state). */
  dataDir: string;
  /** Unset: embedded PGlite under `dataDir`. */
  databaseUrl?: string;
  stripe: {
    /** Unset: the local Stripe emulator is used (never in production). */
    secretKey?: string;
    publishableKey?: string;
    webhookSecret?: string;
    /** Base URL of a Stripe-compatible API (the emulator); unset means api.stripe.com. */
    apiBase?: string;
    mode: StripeMode;
    /** Port of the local emulator that `npm start` runs when no key and no STRIPE_API_BASE are set. */
    emulatorPort: number;
    /** The SDK's own retries of a request that failed in transit (5xx, 409, timeouts), with the same key. */
    maxNetworkRetries: number;
  };
  billing: {
    defaultCurrency: string;
    invoiceDueDays: number;
    invoicePrefix: string;
    autoSendInvoices: boolean;
  };
  company: { name: string; address: string; email: string; phone: string };
  auth: {
    /** HS256 shared secret. */
    jwtSecret?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
  };
  /** The Stripe webhook route and worker (`WEBHOOK_*`). */
  webhooks: WebhookSettings;
  /** The monthly billing scheduler (`BILLING_*`). */
  scheduler: SchedulerSettings;
}

/** The Stripe webhook route and worker (`WEBHOOK_*`). */
export interface WebhookSettings {
  /** Run the worker in this instance (false: an ingress-only instance that receives and stores). */
  workerEnabled: boolean;
  /** Events claimed per transaction. */
  batchSize: number;
  /** Idle poll interval: how soon an event stored by another instance is picked up. */
  pollIntervalMs: number;
  /** Attempts before an event is marked `failed`. */
  maxAttempts: number;
  /** First retry delay; doubles with every attempt (8 attempts from 2 s span about 4 minutes). */
  retryBaseMs: number;
  /** Upper bound of one retry delay. */
  retryMaxMs: number;
  /** Health turns 503 when the oldest pending event is older than this. */
  maxPendingAgeSeconds: number;
  /** Per-IP limit on the webhook route: sustained requests per second (0 = off). */
  rateLimitPerSecond: number;
  /** Per-IP burst on the webhook route. */
  rateLimitBurst: number;
  /** Longest any statement or lock wait may take while applying a batch; then the event is retried. */
  handlerTimeoutMs: number;
}

/** The monthly billing scheduler (`BILLING_*`). */
export interface SchedulerSettings {
  enabled: boolean;
  /** A period is billed this long after it ends (late usage still arriving). */
  graceMinutes: number;
  /** How often the scheduler checks whether a period is due. */
  intervalSeconds: number;
  /** Invoices created at once by a billing run. */
  concurrency: number;
  /** At start, months before the due one that are billed if they were missed (0 = off). */
  catchUpMonths: number;
}

export interface ConfigProblem {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

/**
 * The environment as the server sees it: a `.env` file (if present) overlaid by the process environment,
 * so an explicitly exported variable always wins over the file.
 */
export function readEnv(env: Env = process.env, envFile = path.resolve(process.cwd(), '.env')): Env {
  const fromFile = existsSync(envFile) ? parseDotenv(readFileSync(envFile)) : {};
  return { ...fromFile, ...env };
}

/** Parses and validates the configuration, naming every bad variable at once. */
export function loadConfig(env: Env = readEnv()): AppConfig {
  const problems: ConfigProblem[] = [];
  const bad = (variable: string, message: string): void => {
    problems.push({ variable, message });
  };
  const str = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };

  const nodeEnvRaw = str('NODE_ENV') ?? 'development';
  let nodeEnv: NodeEnv = 'development';
  if (nodeEnvRaw === 'development' || nodeEnvRaw === 'test' || nodeEnvRaw === 'production') {
    nodeEnv = nodeEnvRaw;
  } else {
    bad('NODE_ENV', `must be development, test or production (got "${nodeEnvRaw}")`);
  }
  const production = nodeEnv === 'production';

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = str(name);
    if (raw === undefined) {
      return fallback;
    }
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      bad(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) {
      return fallback;
    }
    if (['true', '1', 'yes', 'on'].includes(raw)) {
      return true;
    }
    if (['false', '0', 'no', 'off'].includes(raw)) {
      return false;
    }
    bad(name, `must be true or false (got "${raw}")`);
    return fallback;
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = str(name);
    if (raw === undefined) {
      return undefined;
    }
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        bad(name, `must be a ${protocols.join(' or ')} URL`);
      }
    } catch {
      // Never echo the value: a database URL carries a password.
      bad(name, 'is not a valid URL');
    }
    return raw;
  };

  const port = integer('PORT', 8000, 0, 65535);
  const host = str('HOST') ?? '0.0.0.0';
  const trustProxyParsed = parseTrustProxy(str('TRUST_PROXY'));
  let trustProxy: TrustProxySetting = false;
  if (typeof trustProxyParsed === 'object' && !Array.isArray(trustProxyParsed)) {
    bad('TRUST_PROXY', trustProxyParsed.problem);
  } else {
    trustProxy = trustProxyParsed;
  }
  const logLevelRaw = (str('LOG_LEVEL') ?? (nodeEnv === 'test' ? 'silent' : 'info')).toLowerCase();
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw) ? (logLevelRaw as LogLevel) : 'info';
  if (logLevel !== logLevelRaw) {
    bad('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${logLevelRaw}")`);
  }
  const dataDir = path.resolve(str('DATA_DIR') ?? '.data');

  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  if (production && !databaseUrl) {
    bad(
      'DATABASE_URL',
      'is required when NODE_ENV=production (the embedded PGlite database is for development only); ' +
        'set it to postgres://user:password@host:5432/dbname',
    );
  }

  // --- Stripe -------------------------------------------------------------------------------------------
  const secretKey = str('STRIPE_SECRET_KEY');
  let keyMode: 'test' | 'live' | undefined;
  if (secretKey !== undefined) {
    if (/^(sk|rk)_test_\w+$/.test(secretKey)) {
      keyMode = 'test';
    } else if (/^(sk|rk)_live_\w+$/.test(secretKey)) {
      keyMode = 'live';
    } else if (secretKey.startsWith('pk_')) {
      bad('STRIPE_SECRET_KEY', 'is a publishable key (pk_…); use the secret key (sk_test_… or sk_live_…)');
    } else if (secretKey.startsWith('whsec_')) {
      bad('STRIPE_SECRET_KEY', 'is a webhook signing secret (whsec_…); use the secret key (sk_test_… or sk_live_…)');
    } else {
      bad('STRIPE_SECRET_KEY', 'must start with sk_test_ or sk_live_ (or a restricted key rk_test_/rk_live_)');
    }
  } else if (production) {
    bad(
      'STRIPE_SECRET_KEY',
      'is required when NODE_ENV=production (the local Stripe emulator is for development only)',
    );
  }
  const publishableKey = str('STRIPE_PUBLISHABLE_KEY');
  if (publishableKey !== undefined) {
    const match = /^pk_(test|live)_\w+$/.exec(publishableKey);
    if (!match) {
      bad(
        'STRIPE_PUBLISHABLE_KEY',
        publishableKey.startsWith('sk_')
          ? 'is a secret key (sk_…); it must never be published — use the pk_test_…/pk_live_… key'
          : 'must start with pk_test_ or pk_live_',
      );
    } else if (keyMode && match[1] !== keyMode) {
      bad('STRIPE_PUBLISHABLE_KEY', `is a ${match[1]}-mode key but STRIPE_SECRET_KEY is a ${keyMode}-mode key`);
    }
  }
  const webhookSecret = str('STRIPE_WEBHOOK_SECRET');
  if (webhookSecret !== undefined && !/^whsec_\w+$/.test(webhookSecret)) {
    bad('STRIPE_WEBHOOK_SECRET', 'must start with whsec_ (the signing secret of the webhook endpoint)');
  }
  if (webhookSecret === undefined && production) {
    bad('STRIPE_WEBHOOK_SECRET', 'is required when NODE_ENV=production so that webhooks can be verified');
  }
  const apiBase = url('STRIPE_API_BASE', ['http:', 'https:']);
  if (apiBase && keyMode === 'live') {
    bad('STRIPE_API_BASE', 'must not be set together with a live-mode STRIPE_SECRET_KEY');
  }
  const stripeMode: StripeMode = secretKey === undefined || apiBase ? 'emulator' : (keyMode ?? 'test');
  const emulatorPort = integer('STRIPE_EMULATOR_PORT', 12111, 0, 65535);
  const maxNetworkRetries = integer('STRIPE_MAX_NETWORK_RETRIES', 2, 0, 10);

  // --- Billing ------------------------------------------------------------------------------------------
  const currencyRaw = (str('DEFAULT_CURRENCY') ?? 'usd').toLowerCase();
  if (!isSupportedCurrency(currencyRaw)) {
    bad('DEFAULT_CURRENCY', `is not an ISO 4217 currency that Stripe supports (got "${currencyRaw}")`);
  }
  const invoiceDueDays = integer('INVOICE_DUE_DAYS', 30, 0, 365);
  const invoicePrefix = str('INVOICE_PREFIX') ?? 'AH';
  if (!/^[A-Z0-9]{1,10}$/.test(invoicePrefix)) {
    bad('INVOICE_PREFIX', `must be 1 to 10 upper-case letters or digits (got "${invoicePrefix}")`);
  }
  const autoSendInvoices = boolean('AUTO_SEND_INVOICES', true);

  const companyEmail = str('COMPANY_EMAIL') ?? 'billing@agenthub.example';
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(companyEmail)) {
    bad('COMPANY_EMAIL', `is not an e-mail address (got "${companyEmail}")`);
  }

  // --- Identity -----------------------------------------------------------------------------------------
  const jwtSecret = str('JWT_SECRET');
  const jwksUrl = url('JWT_JWKS_URL', ['http:', 'https:']);
  const issuer = str('JWT_ISSUER');
  const audience = str('JWT_AUDIENCE');
  if (jwtSecret !== undefined && jwtSecret.length < 32) {
    bad('JWT_SECRET', 'must be at least 32 characters (HS256 needs a 256-bit secret)');
  }
  if (jwtSecret !== undefined && jwksUrl !== undefined) {
    bad('JWT_JWKS_URL', 'set either JWT_SECRET (HS256) or JWT_JWKS_URL, not both');
  }
  if (jwksUrl !== undefined) {
    if (!issuer) {
      bad('JWT_ISSUER', 'is required with JWT_JWKS_URL');
    }
    if (!audience) {
      bad('JWT_AUDIENCE', 'is required with JWT_JWKS_URL');
    }
  }
  if (production && jwtSecret === undefined && jwksUrl === undefined) {
    bad('JWT_SECRET', 'set JWT_SECRET or JWT_JWKS_URL (+ JWT_ISSUER, JWT_AUDIENCE) when NODE_ENV=production');
  }

  // --- Webhook worker and route ------------------------------------------------------------------------------
  const webhooks: WebhookSettings = {
    workerEnabled: boolean('WEBHOOK_WORKER_ENABLED', true),
    batchSize: integer('WEBHOOK_WORKER_BATCH_SIZE', 25, 1, 500),
    pollIntervalMs: integer('WEBHOOK_WORKER_POLL_MS', 100, 10, 60_000),
    maxAttempts: integer('WEBHOOK_RETRY_MAX_ATTEMPTS', 8, 1, 100),
    retryBaseMs: integer('WEBHOOK_RETRY_BASE_MS', 2_000, 1, 3_600_000),
    retryMaxMs: integer('WEBHOOK_RETRY_MAX_MS', 15 * 60_000, 1, 86_400_000),
    maxPendingAgeSeconds: integer('WEBHOOK_HEALTH_MAX_PENDING_AGE_S', 300, 1, 86_400),
    rateLimitPerSecond: integer('WEBHOOK_RATE_LIMIT_PER_SECOND', 100, 0, 100_000),
    rateLimitBurst: integer('WEBHOOK_RATE_LIMIT_BURST', 500, 1, 1_000_000),
    handlerTimeoutMs: integer('WEBHOOK_HANDLER_TIMEOUT_MS', 10_000, 100, 600_000),
  };

  // --- Billing scheduler ----------------------------------------------------------------------------------
  const scheduler: SchedulerSettings = {
    enabled: boolean('BILLING_SCHEDULER_ENABLED', true),
    graceMinutes: integer('BILLING_GRACE_MINUTES', 60, 0, 7 * 24 * 60),
    intervalSeconds: integer('BILLING_SCHEDULER_INTERVAL_SECONDS', 60, 1, 86_400),
    concurrency: integer('BILLING_CONCURRENCY', 4, 1, 32),
    catchUpMonths: integer('BILLING_CATCH_UP_MONTHS', 3, 0, 24),
  };

  if (problems.length > 0) {
    throw new ConfigError(problems);
  }

  return {
    nodeEnv,
    port,
    host,
    trustProxy,
    logLevel,
    dataDir,
    databaseUrl,
    stripe: { secretKey, publishableKey, webhookSecret, apiBase, mode: stripeMode, emulatorPort, maxNetworkRetries },
    billing: { defaultCurrency: currencyRaw, invoiceDueDays, invoicePrefix, autoSendInvoices },
    company: {
      name: str('COMPANY_NAME') ?? 'AgentHub',
      address: str('COMPANY_ADDRESS') ?? '',
      email: companyEmail,
      phone: str('COMPANY_PHONE') ?? '',
    },
    auth: { jwtSecret, jwksUrl, issuer, audience },
    webhooks,
    scheduler,
  };
}

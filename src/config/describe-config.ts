import type { AppConfig } from './config';

/** `sk_test_…abcd`: enough to tell keys apart, never enough to use one. */
export function maskSecret(value: string | undefined): string {
  if (value === undefined) {
    return '(not set)';
  }
  const prefix = /^(sk_test_|sk_live_|rk_test_|rk_live_|pk_test_|pk_live_|whsec_)/.exec(value)?.[0] ?? '';
  return `${prefix}…${value.length - prefix.length > 12 ? value.slice(-4) : ''}`;
}

function maskUrl(value: string | undefined): string {
  if (value === undefined) {
    return '(not set)';
  }
  try {
    const parsed = new URL(value);
    if (parsed.password) {
      parsed.password = '***';
    }
    return parsed.toString();
  } catch {
    return '(invalid)';
  }
}

/** The effective configuration as printable rows, secrets masked (for `npm run config:check`). */
export function describeConfig(config: AppConfig): Array<[string, string]> {
  return [
    ['NODE_ENV', config.nodeEnv],
    ['PORT', String(config.port)],
    ['HOST', config.host],
    [
      'TRUST_PROXY',
      Array.isArray(config.trustProxy)
        ? config.trustProxy.join(', ')
        : config.trustProxy === false
          ? 'false (client address = socket peer)'
          : String(config.trustProxy),
    ],
    ['LOG_LEVEL', config.logLevel],
    ['DATA_DIR', config.dataDir],
    ['DATABASE_URL', config.databaseUrl ? maskUrl(config.databaseUrl) : `(embedded PGlite in ${config.dataDir})`],
    ['Stripe mode', config.stripe.mode],
    ['STRIPE_SECRET_KEY', config.stripe.secretKey ? maskSecret(config.stripe.secretKey) : '(local emulator)'],
    ['STRIPE_PUBLISHABLE_KEY', maskSecret(config.stripe.publishableKey)],
    ['STRIPE_WEBHOOK_SECRET', maskSecret(config.stripe.webhookSecret)],
    ['STRIPE_API_BASE', config.stripe.apiBase ?? '(api.stripe.com or the local emulator)'],
    ['STRIPE_EMULATOR_PORT', String(config.stripe.emulatorPort)],
    ['STRIPE_MAX_NETWORK_RETRIES', String(config.stripe.maxNetworkRetries)],
    ['DEFAULT_CURRENCY', config.billing.defaultCurrency],
    ['INVOICE_DUE_DAYS', String(config.billing.invoiceDueDays)],
    ['INVOICE_PREFIX', config.billing.invoicePrefix],
    ['AUTO_SEND_INVOICES', String(config.billing.autoSendInvoices)],
    ['COMPANY_NAME', config.company.name],
    ['COMPANY_ADDRESS', config.company.address || '(not set)'],
    ['COMPANY_EMAIL', config.company.email],
    ['COMPANY_PHONE', config.company.phone || '(not set)'],
    [
      'JWT',
      config.auth.jwksUrl
        ? `JWKS ${config.auth.jwksUrl} (issuer ${config.auth.issuer}, audience ${config.auth.audience})`
        : config.auth.jwtSecret
          ? `HS256 secret ${maskSecret(config.auth.jwtSecret)}`
          : `development secret in ${config.dataDir}/dev-jwt-secret`,
    ],
    ['WEBHOOK_WORKER_ENABLED', String(config.webhooks.workerEnabled)],
    ['WEBHOOK_WORKER_BATCH_SIZE', String(config.webhooks.batchSize)],
    ['WEBHOOK_WORKER_POLL_MS', String(config.webhooks.pollIntervalMs)],
    ['WEBHOOK_RETRY_MAX_ATTEMPTS', String(config.webhooks.maxAttempts)],
    ['WEBHOOK_RETRY_BASE_MS', String(config.webhooks.retryBaseMs)],
    ['WEBHOOK_RETRY_MAX_MS', String(config.webhooks.retryMaxMs)],
    ['WEBHOOK_HEALTH_MAX_PENDING_AGE_S', String(config.webhooks.maxPendingAgeSeconds)],
    [
      'WEBHOOK_RATE_LIMIT_PER_SECOND',
      config.webhooks.rateLimitPerSecond === 0 ? '0 (off)' : String(config.webhooks.rateLimitPerSecond),
    ],
    ['WEBHOOK_RATE_LIMIT_BURST', String(config.webhooks.rateLimitBurst)],
    ['WEBHOOK_HANDLER_TIMEOUT_MS', String(config.webhooks.handlerTimeoutMs)],
    ['BILLING_SCHEDULER_ENABLED', String(config.scheduler.enabled)],
    ['BILLING_GRACE_MINUTES', String(config.scheduler.graceMinutes)],
    ['BILLING_SCHEDULER_INTERVAL_SECONDS', String(config.scheduler.intervalSeconds)],
    ['BILLING_CONCURRENCY', String(config.scheduler.concurrency)],
    ['BILLING_CATCH_UP_MONTHS', String(config.scheduler.catchUpMonths)],
  ];
}

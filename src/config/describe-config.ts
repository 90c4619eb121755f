import type { AppConfig } from './config';
import { CONFIG_VARIABLES } from './config-schema';
import type { PlacedVariable, VariableName } from './config-schema';

/** `sk_test_…abcd`: enough to tell keys apart, never enough to use one. */
export function maskSecret(value: string | undefined): string {
  if (value === undefined) {
    return '(not set)';
  }
  const prefix = /^(sk_test_|sk_live_|rk_test_|rk_live_|pk_test_|pk_live_|whsec_)/.exec(value)?.[0] ?? '';
  return `${prefix}…${value.length - prefix.length > 12 ? value.slice(-4) : ''}`;
}

function maskUrl(value: string): string {
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

/** Settings whose printed value says more than the value alone (undefined: print it as any other). */
const SHOWN_WITH: Partial<Record<VariableName, (config: AppConfig) => string | undefined>> = {
  TRUST_PROXY: ({ trustProxy }) => (trustProxy === false ? 'false (client address = socket peer)' : undefined),
  DATABASE_URL: (c) => (c.databaseUrl ? undefined : `(embedded PGlite in ${c.dataDir})`),
  JWT_SECRET: (c) =>
    c.auth.jwtSecret
      ? undefined
      : c.auth.jwksUrl
        ? '(not set: tokens are verified with JWT_JWKS_URL)'
        : `(development secret in ${c.dataDir}/dev-jwt-secret)`,
  // Only the key ids: the keys themselves are never printed, not even in part.
  SECRETS_ENCRYPTION_KEYS: ({ secretsEncryptionKeys: keys, dataDir }) =>
    keys
      ? `${keys.length} key${keys.length === 1 ? '' : 's'}: ${keys.map((k, i) => (i === 0 ? `${k.kid} (seals)` : k.kid)).join(', ')}`
      : `(development key in ${dataDir}/dev-secrets-key)`,
  WEBHOOK_RATE_LIMIT_PER_SECOND: (c) => (c.webhooks.rateLimitPerSecond === 0 ? '0 (off)' : undefined),
  BILLING_CATCH_UP_MONTHS: (c) => (c.scheduler.catchUpMonths === 0 ? '0 (off)' : undefined),
};

/** Computed settings, printed before the variable they follow from. */
const COMPUTED: Partial<Record<VariableName, [string, (config: AppConfig) => string]>> = {
  STRIPE_SECRET_KEY: ['Stripe mode', (c) => c.stripe.mode],
};

function settingOf(config: AppConfig, variable: PlacedVariable): unknown {
  return variable.path.reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], config);
}

function show(config: AppConfig, variable: PlacedVariable): string {
  const special = SHOWN_WITH[variable.name]?.(config);
  if (special !== undefined) {
    return special;
  }
  const value = settingOf(config, variable);
  if (value === undefined || value === '') {
    return variable.unset ? `(${variable.unset})` : '(not set)';
  }
  if (variable.secret === 'value') {
    return maskSecret(String(value));
  }
  if (variable.secret === 'url-password') {
    // A list of URLs (NATS_URL) is masked URL by URL.
    return Array.isArray(value) ? value.map((url) => maskUrl(String(url))).join(', ') : maskUrl(String(value));
  }
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * The effective configuration as printable rows, one per variable of the schema in its order, secrets masked (for
 * `npm run config:check` and `npm run billing -- config check`).
 */
export function describeConfig(config: AppConfig): Array<[string, string]> {
  return CONFIG_VARIABLES.flatMap((variable): Array<[string, string]> => {
    const computed = COMPUTED[variable.name];
    const row: [string, string] = [variable.name, show(config, variable)];
    return computed ? [[computed[0], computed[1](config)], row] : [row];
  });
}

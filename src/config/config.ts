import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { CONFIG_RULES, CONFIG_VARIABLES, stripeKeyMode } from './config-schema';
import type { ConfigSettings, PlacedVariable, VariableName } from './config-schema';

export { LOG_LEVELS } from './config-schema';
export type { LogLevel, NodeEnv } from './config-schema';

export type StripeMode = 'emulator' | 'test' | 'live';

/**
 * The server's configuration: every setting of the schema (src/config/config-schema.ts, where each variable is
 * described), plus the Stripe mode computed from them.
 */
export interface AppConfig extends ConfigSettings {
  stripe: ConfigSettings['stripe'] & {
    /** `emulator` with no key or with STRIPE_API_BASE, otherwise the key's mode. */
    mode: StripeMode;
  };
}

/** The Stripe webhook route and worker (`WEBHOOK_*`). */
export type WebhookSettings = AppConfig['webhooks'];
/** The outgoing webhook worker (`OUTGOING_WEBHOOK_*`). */
export type OutgoingWebhookSettings = AppConfig['outgoingWebhooks'];

/** Bounds of GraphQL over WebSocket and Server-Sent Events (`SUBSCRIPTION_*`, `WS_*`). */
export type SubscriptionSettings = AppConfig['subscriptions'];

/** The monthly billing scheduler (`BILLING_*`). */
export type SchedulerSettings = AppConfig['scheduler'];

/** The dunning policy (`DUNNING_*`): off while `retryDays` is unset. */
export type DunningSettings = AppConfig['dunning'];

/** `USAGE_INGEST` and the JetStream intake's stream, consumer and write batches. */
export type UsageIntakeSettings = AppConfig['usageIntake'];

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

/** A variable's trimmed value; an empty value counts as unset. */
function valueOf(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** The default `variable` takes in this environment (undefined: none). */
function defaultOf(variable: PlacedVariable, env: Env): string | undefined {
  return valueOf(env, 'NODE_ENV') === 'test' && variable.defaultInTest !== undefined
    ? variable.defaultInTest
    : variable.default;
}

/** Puts `value` at `at` in `target`, creating the objects on the way. */
function place(target: Record<string, unknown>, at: readonly string[], value: unknown): void {
  const [head, ...rest] = at;
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  target[head] ??= {};
  place(target[head] as Record<string, unknown>, rest, value);
}

/**
 * Parses and validates the configuration, naming every bad variable at once: each variable through its parser in
 * the schema, then the rules across variables. Problems are listed in the schema's order.
 */
export function loadConfig(env: Env = readEnv()): AppConfig {
  const problems: Array<ConfigProblem & { order: number }> = [];
  const settings: Record<string, unknown> = {};
  CONFIG_VARIABLES.forEach((variable, order) => {
    const fallback = defaultOf(variable, env);
    const input = valueOf(env, variable.name) ?? fallback;
    let value: unknown = undefined;
    if (input !== undefined) {
      const parsed = variable.schema.safeParse(input);
      if (parsed.success) {
        value = parsed.data;
      } else {
        problems.push(...parsed.error.issues.map(({ message }) => ({ variable: variable.name, message, order })));
        // The rules see the default, as if the bad value were not there.
        value = fallback === undefined ? undefined : variable.schema.parse(fallback);
      }
    }
    place(settings, variable.path, value);
  });

  const parsed = settings as ConfigSettings;
  const isSet = (name: VariableName): boolean => valueOf(env, name) !== undefined;
  const orderOf = new Map(CONFIG_VARIABLES.map((variable, order) => [variable.name, order]));
  for (const rule of CONFIG_RULES) {
    const message = rule.check(parsed, isSet);
    if (message !== undefined) {
      problems.push({ variable: rule.variable, message, order: orderOf.get(rule.variable) ?? 0 });
    }
  }

  if (problems.length > 0) {
    // Stable: a variable's own problem before the rules about it.
    throw new ConfigError(
      problems.sort((a, b) => a.order - b.order).map(({ variable, message }) => ({ variable, message })),
    );
  }
  const { secretKey, apiBase } = parsed.stripe;
  const mode: StripeMode = secretKey === undefined || apiBase ? 'emulator' : (stripeKeyMode(secretKey) ?? 'test');
  return { ...parsed, stripe: { ...parsed.stripe, mode } };
}

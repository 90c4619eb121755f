import path from 'node:path';
import { z } from 'zod';
import { isSupportedCurrency } from './currencies';
import { parseTrustProxy } from './trust-proxy';
import type { TrustProxySetting } from './trust-proxy';

/**
 * The one description of the server's configuration. Every environment variable is spelled here once, with its
 * zod parser (its validation messages are the ones printed), default, group, description, whether it is secret and
 * an example. Derived from it: the `AppConfig` type and `loadConfig` (config.ts), the rows of `npm run config:check`
 * (describe-config.ts), `.env.example` and the tables of docs/configuration.md (config-docs.ts, written by
 * `npm run docs:config` and checked by tests/config-docs.test.ts).
 *
 * The tree mirrors `AppConfig`: each leaf is one variable, and its place in the tree is its place in the
 * configuration (`stripe.secretKey` ← `STRIPE_SECRET_KEY`). The order of the leaves is the order of the docs.
 */

/** The documentation's sections, in order; every variable belongs to one. */
export const CONFIG_GROUPS = {
  runtime: 'Runtime',
  database: 'Database',
  stripe: 'Stripe',
  billing: 'Billing',
  identity: 'Identity',
  graphql: 'GraphQL inputs',
  subscriptions: 'Subscriptions: WebSocket and Server-Sent Events',
  usageIntake: 'Usage intake: direct, or through NATS JetStream',
  webhooks: 'Stripe webhooks',
  outgoingWebhooks: 'Outgoing webhooks (to the platform)',
  scheduler: 'Monthly billing scheduler',
  dunning: 'Dunning: retries and reminders of unpaid invoices',
  browser: 'Dashboard and GraphQL explorer',
  monitoring: 'Monitoring',
} as const;
export type ConfigGroup = keyof typeof CONFIG_GROUPS;

/** A parser of one variable's value: the trimmed, non-empty text (or its default) in, the setting out. */
export type ValueSchema<T> = z.ZodType<T, z.ZodTypeDef, string>;

type AnySchema = ValueSchema<unknown>;

interface VariableSpec<S extends AnySchema> {
  group: ConfigGroup;
  schema: S;
  /** The meaning, in Markdown (the docs table; `.env.example` gets it without the backticks). */
  description: string;
  /** The default as written in `.env`; parsed by `schema` like a value. Absent: unset means `undefined`. */
  default?: string;
  /** The default when NODE_ENV=test, if it differs. */
  defaultInTest?: string;
  /** What an unset variable means, when it has no default (e.g. "local emulator"). */
  unset?: string;
  /** Masked by `config:check`: the whole value (keys, secrets) or the password of a URL. */
  secret?: 'value' | 'url-password';
  /** The value `.env.example` shows (commented out); else the default. */
  example?: string;
  /** Whole numbers: the accepted range, printed in the docs. */
  range?: readonly [number, number];
  /** One of a fixed list: the accepted values, printed in the docs. */
  values?: readonly string[];
}

export interface ConfigVariable<
  N extends string = string,
  S extends AnySchema = AnySchema,
  D extends boolean = boolean,
> extends VariableSpec<S> {
  readonly name: N;
  /** True when the variable has a default, so the setting always has a value. */
  readonly hasDefault: D;
}

type AnyVariable = ConfigVariable<string, AnySchema, boolean>;

/** One variable of the schema. Its setting is the schema's output, optional when there is no default. */
export function variable<N extends string, S extends AnySchema>(
  name: N,
  spec: VariableSpec<S> & { default: string },
): ConfigVariable<N, S, true>;
export function variable<N extends string, S extends AnySchema>(
  name: N,
  spec: VariableSpec<S> & { default?: undefined },
): ConfigVariable<N, S, false>;
export function variable<N extends string, S extends AnySchema>(name: N, spec: VariableSpec<S>): ConfigVariable<N, S> {
  return { name, ...spec, hasDefault: spec.default !== undefined };
}

export function isConfigVariable(node: unknown): node is AnyVariable {
  return typeof node === 'object' && node !== null && 'schema' in node && 'name' in node && 'group' in node;
}

// --- Value parsers: each issue's message is what the configuration error prints after "NAME: ". ---------------

/** `(got "…")`: echoes the value; used only for values that are never secret. */
const got = (message: string) => (value: string) => ({ message: `${message} (got "${value}")` });

/** Every issue of a fixed-list parser reads the same, naming the value it got. */
const listError =
  (message: string): z.ZodErrorMap =>
  (_issue, ctx) => ({ message: `${message} (got "${String(ctx.data)}")` });

/** A whole number from `min` to `max`. */
function wholeNumber(min: number, max: number): { schema: ValueSchema<number>; range: readonly [number, number] } {
  const schema = z
    .string()
    .refine(
      (raw) => /^\d+$/.test(raw) && Number(raw) >= min && Number(raw) <= max,
      got(`must be a whole number from ${min} to ${max}`),
    )
    .transform(Number);
  return { schema, range: [min, max] };
}

const TRUE = ['true', '1', 'yes', 'on'] as const;
const FALSE = ['false', '0', 'no', 'off'] as const;

/** `true`, `1`, `yes`, `on` or `false`, `0`, `no`, `off`, in any case. */
const flag: ValueSchema<boolean> = z
  .string()
  .toLowerCase()
  .pipe(z.enum([...TRUE, ...FALSE], { errorMap: listError('must be true or false') }))
  .transform((value) => (TRUE as readonly string[]).includes(value));

/**
 * One or more webhook signing secrets, comma-separated (a roll keeps the old one beside the new one). Never echoes
 * the value: it is a secret.
 */
const webhookSecrets: ValueSchema<string[]> = z
  .string()
  .transform((raw) => raw.split(',').map((part) => part.trim()))
  .refine(
    (secrets) => secrets.every((secret) => /^whsec_\w+$/.test(secret)),
    'must start with whsec_ (the signing secret of the webhook endpoint); several are separated by commas',
  )
  .refine((secrets) => new Set(secrets).size === secrets.length, 'lists the same secret twice');

/**
 * `kid:base64key,…`: the keys that encrypt secrets stored in the database, the first sealing and every one opening
 * (a rotation lists the new key first and keeps the old one until everything is sealed again). Each key is 32 bytes
 * (AES-256), in base64 or base64url. Never echoes a key: only the ids, which are not secret.
 */
const encryptionKeys: ValueSchema<Array<{ kid: string; key: Buffer }>> = z.string().transform((raw, ctx) => {
  const keys: Array<{ kid: string; key: Buffer }> = [];
  const kids: string[] = [];
  let bad = false;
  // Every bad entry is named (one issue each), so a list with several mistakes is fixed in one go.
  for (const [index, entry] of raw
    .split(',')
    .map((part) => part.trim())
    .entries()) {
    const read = keyEntry(entry, index, kids, keys);
    if (typeof read === 'string') {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: read });
      bad = true;
    } else {
      keys.push(read);
    }
  }
  return bad ? z.NEVER : keys;
});

/** One `kid:base64key` entry (its position `index`), or what is wrong with it, naming its id at most. */
function keyEntry(
  entry: string,
  index: number,
  kids: string[],
  earlier: ReadonlyArray<{ kid: string; key: Buffer }>,
): { kid: string; key: Buffer } | string {
  const match = /^([A-Za-z0-9_-]{1,32}):(.*)$/.exec(entry);
  if (!match) {
    return (
      `entry ${index + 1} must be <key id>:<base64 key>, the id 1 to 32 letters, digits, - or _ (e.g. k1:<32 ` +
      'random bytes in base64>, from `openssl rand -base64 32`); several are separated by commas'
    );
  }
  const [, kid, encoded] = match;
  if (kids.includes(kid)) {
    return `lists the key id "${kid}" twice`;
  }
  kids.push(kid);
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(encoded)) {
    return `key "${kid}" is not base64`;
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== 32) {
    return `key "${kid}" must be 32 bytes (AES-256) once decoded; it is ${key.length}`;
  }
  const twin = earlier.find((k) => k.key.equals(key));
  return twin ? `key "${kid}" is the same key as "${twin.kid}"` : { kid, key };
}

/** A URL of one of `protocols`. Never echoes the value: a database URL carries a password. */
function url(protocols: string[]): ValueSchema<string> {
  return z.string().superRefine((raw, ctx) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not a valid URL' });
      return;
    }
    if (!protocols.includes(parsed.protocol)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a ${protocols.join(' or ')} URL` });
    }
  });
}

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The mode a Stripe secret key is for, or undefined when it is not a secret key. */
export function stripeKeyMode(key: string | undefined): 'test' | 'live' | undefined {
  return /^(sk|rk)_(test|live)_\w+$/.exec(key ?? '')?.[2] as 'test' | 'live' | undefined;
}

const stripeSecretKey: ValueSchema<string> = z.string().superRefine((key, ctx) => {
  if (stripeKeyMode(key)) {
    return;
  }
  // Never echoes the value: it may be a real key pasted into the wrong variable.
  const message = key.startsWith('pk_')
    ? 'is a publishable key (pk_…); use the secret key (sk_test_… or sk_live_…)'
    : key.startsWith('whsec_')
      ? 'is a webhook signing secret (whsec_…); use the secret key (sk_test_… or sk_live_…)'
      : 'must start with sk_test_ or sk_live_ (or a restricted key rk_test_/rk_live_)';
  ctx.addIssue({ code: z.ZodIssueCode.custom, message });
});

const stripePublishableKey: ValueSchema<string> = z.string().superRefine((key, ctx) => {
  if (/^pk_(test|live)_\w+$/.test(key)) {
    return;
  }
  const message = key.startsWith('sk_')
    ? 'is a secret key (sk_…); it must never be published — use the pk_test_…/pk_live_… key'
    : 'must start with pk_test_ or pk_live_';
  ctx.addIssue({ code: z.ZodIssueCode.custom, message });
});

/** The trust-proxy setting; the reason it is invalid otherwise. */
const trustProxy: ValueSchema<TrustProxySetting> = z.string().transform((raw, ctx) => {
  const setting = parseTrustProxy(raw);
  if (typeof setting === 'object' && !Array.isArray(setting)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: setting.problem });
    return z.NEVER;
  }
  return setting;
});

const text: ValueSchema<string> = z.string();

export const USAGE_INGEST_MODES = ['direct', 'jetstream'] as const;
export type UsageIngestMode = (typeof USAGE_INGEST_MODES)[number];

/** Comma-separated `nats://` (or `tls://`) URLs. Never echoes the value: a URL may carry a password. */
const natsServers: ValueSchema<string[]> = z
  .string()
  .transform((raw) => raw.split(',').map((part) => part.trim()))
  .refine(
    (servers) => servers.every((server) => /^(nats|tls):\/\/[^\s/]+$/.test(server)),
    'must be nats://host:port (or tls://), several separated by commas',
  );

/** A JetStream stream or consumer name: letters, digits, `-` and `_`. */
const natsName: ValueSchema<string> = z
  .string()
  .refine((name) => /^[A-Za-z0-9_-]{1,64}$/.test(name), got('must be 1 to 64 letters, digits, - or _'));

/** A NATS subject without wildcards: dot-separated tokens. */
const natsSubject: ValueSchema<string> = z
  .string()
  .refine(
    (subject) => /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subject) && subject.length <= 200,
    got('must be dot-separated tokens of letters, digits, - or _ (no wildcards)'),
  );

/** Days after the start of dunning, comma-separated and increasing: `1,3,5,7`. */
const retryDays: ValueSchema<number[]> = z
  .string()
  .refine((raw) => {
    const days = raw.split(',').map((part) => part.trim());
    return (
      days.length <= 20 &&
      days.every((day) => /^\d{1,3}$/.test(day) && Number(day) >= 0 && Number(day) <= 365) &&
      days.every((day, i) => i === 0 || Number(day) > Number(days[i - 1]))
    );
  }, got('must be up to 20 increasing whole numbers of days from 0 to 365, separated by commas (e.g. 1,3,5,7)'))
  .transform((raw) => raw.split(',').map((part) => Number(part.trim())));

// --- The variables -------------------------------------------------------------------------------------------

export const CONFIG_SCHEMA = {
  nodeEnv: variable('NODE_ENV', {
    group: 'runtime',
    schema: z.enum(NODE_ENVS, { errorMap: listError('must be development, test or production') }),
    values: NODE_ENVS,
    default: 'development',
    description:
      '`production` refuses the embedded database, the emulator, the development JWT secret and encryption key, ' +
      'turns off ' +
      'introspection and suggestions; `development` sends stack traces of unexpected errors',
  }),
  port: variable('PORT', {
    group: 'runtime',
    ...wholeNumber(0, 65535),
    default: '8000',
    description: 'HTTP and WebSocket port (GraphQL at `/graphql`)',
  }),
  host: variable('HOST', { group: 'runtime', schema: text, default: '0.0.0.0', description: 'interface to bind' }),
  trustProxy: variable('TRUST_PROXY', {
    group: 'runtime',
    schema: trustProxy,
    default: 'false',
    description:
      'whose `X-Forwarded-For` to believe for the client address (per-IP webhook limit, logs): `false` (the socket ' +
      'peer is the client), `true` (anyone), a hop count 1–10, or comma-separated proxy IPs, CIDR subnets and the ' +
      'names `loopback`, `linklocal`, `uniquelocal`',
  }),
  logLevel: variable('LOG_LEVEL', {
    group: 'runtime',
    schema: z
      .string()
      .toLowerCase()
      .pipe(z.enum(LOG_LEVELS, { errorMap: listError(`must be one of ${LOG_LEVELS.join(', ')}`) })),
    values: LOG_LEVELS,
    default: 'info',
    defaultInTest: 'silent',
    description: 'Logs are JSON lines with a request id, secrets redacted',
  }),
  dataDir: variable('DATA_DIR', {
    group: 'runtime',
    schema: z.string().transform((dir) => path.resolve(dir)),
    default: '.data',
    description:
      'folder of the embedded defaults: the PGlite database (`pglite/`, with its lock file `agenthub.lock`), the ' +
      "development JWT secret (`dev-jwt-secret`), the development encryption key (`dev-secrets-key`), the emulator's " +
      'webhook secret (`dev-webhook-secret`) and state ' +
      '(`stripe-emulator.json`). Private whatever the umask: folders 0700, files 0600',
  }),
  databaseUrl: variable('DATABASE_URL', {
    group: 'database',
    schema: url(['postgres:', 'postgresql:']),
    unset: 'embedded PGlite',
    secret: 'url-password',
    example: 'postgres://billing:password@127.0.0.1:5432/billing',
    description:
      '`postgres://` or `postgresql://` URL of PostgreSQL ≥ 14. Unset: embedded PGlite under `DATA_DIR/pglite`, ' +
      'one process at a time; required in production',
  }),
  databasePoolMax: variable('DATABASE_POOL_MAX', {
    group: 'database',
    ...wholeNumber(1, 200),
    default: '10',
    description:
      'most PostgreSQL connections one instance opens for requests, the webhook worker and the scheduler (the status ' +
      "feed's LISTEN connection is one more). Keep instances × (this + `DATABASE_STATEMENT_POOL_MAX` + 1) under the " +
      "server's `max_connections` minus its reserve. [Sizing](operations.md#connection-pool-sizing)",
  }),
  databaseStatementPoolMax: variable('DATABASE_STATEMENT_POOL_MAX', {
    group: 'database',
    ...wholeNumber(1, 200),
    default: '5',
    description:
      'most PostgreSQL connections one instance opens, beside `DATABASE_POOL_MAX`, for single statements on hot ' +
      'paths (the Stripe webhook insert, invoice reads, usage previews, the status feed), opened on demand. It is also ' +
      'how many webhook inserts run at once: deliveries arriving while they all run share the next one. ' +
      '[Sizing](operations.md#connection-pool-sizing)',
  }),
  stripe: {
    secretKey: variable('STRIPE_SECRET_KEY', {
      group: 'stripe',
      schema: stripeSecretKey,
      unset: 'local emulator',
      secret: 'value',
      example: 'sk_test_...',
      description:
        '`sk_test_…` or `sk_live_…` (or a restricted `rk_test_…`/`rk_live_…` key); the mode (test or live) follows ' +
        'the key. Unset: `npm start` runs the local emulator. A `pk_…` or `whsec_…` value is refused with the ' +
        'reason. Required in production',
    }),
    publishableKey: variable('STRIPE_PUBLISHABLE_KEY', {
      group: 'stripe',
      schema: stripePublishableKey,
      secret: 'value',
      example: 'pk_test_...',
      description:
        '`pk_test_…`/`pk_live_…`, in the same mode as the secret key (a `sk_…` value is refused). Validated only: ' +
        'the server does not use or serve it today',
    }),
    webhookSecrets: variable('STRIPE_WEBHOOK_SECRET', {
      group: 'stripe',
      schema: webhookSecrets,
      secret: 'value',
      example: 'whsec_...',
      description:
        '`whsec_…`, the signing secret of the webhook endpoint (Stripe dashboard or `stripe listen`), or several ' +
        'separated by commas while a secret is rolled (an event is accepted when any one verifies it; see ' +
        'docs/operations.md). Without it the webhook route answers 503. With the local emulator, unset means a ' +
        'secret generated once into `DATA_DIR/dev-webhook-secret`. Required in production',
    }),
    apiBase: variable('STRIPE_API_BASE', {
      group: 'stripe',
      schema: url(['http:', 'https:']),
      unset: 'api.stripe.com or the local emulator',
      example: 'http://127.0.0.1:12111',
      description:
        '`http(s)://` base URL of a Stripe-compatible API (a separately run emulator, e.g. ' +
        '`http://127.0.0.1:12111`); the server then starts no emulator of its own. Not allowed with a live key. ' +
        'Unset: `api.stripe.com`, or the emulator `npm start` runs',
    }),
    emulatorPort: variable('STRIPE_EMULATOR_PORT', {
      group: 'stripe',
      ...wholeNumber(0, 65535),
      default: '12111',
      description:
        'port of the local emulator `npm start` (and the billing CLI) runs when neither `STRIPE_SECRET_KEY` nor ' +
        '`STRIPE_API_BASE` is set; it also serves the hosted invoice pages (`paymentUrl`)',
    }),
    maxNetworkRetries: variable('STRIPE_MAX_NETWORK_RETRIES', {
      group: 'stripe',
      ...wholeNumber(0, 10),
      default: '2',
      description:
        "the Stripe SDK's own retries of a request that failed in transit (5xx, 409, timeouts), with the same " +
        'idempotency key',
    }),
    maxRequestsPerSecond: variable('STRIPE_MAX_REQUESTS_PER_SECOND', {
      group: 'stripe',
      ...wholeNumber(1, 10000),
      unset: '80 live, 20 test, 95 % of what the local Stripe announces',
      example: '20',
      description:
        "the most Stripe requests a second this process sends (the client-side pacing). Unset: 80 % of Stripe's " +
        'documented limit (100 live, 25 test); against a local Stripe, 95 % of the limit it announces in its ' +
        '`RateLimit-Policy` header (500 while it announces none). Set, it caps that too. After a 429 the pace halves ' +
        'and climbs back within a few seconds',
    }),
  },
  billing: {
    defaultCurrency: variable('DEFAULT_CURRENCY', {
      group: 'billing',
      schema: z
        .string()
        .toLowerCase()
        .refine(isSupportedCurrency, got('is not an ISO 4217 currency that Stripe supports')),
      default: 'usd',
      description:
        'ISO 4217 currency that Stripe supports (any case; stored lower-case): the currency of customers without ' +
        'their own, and of the seeded demo prices',
    }),
    invoiceDueDays: variable('INVOICE_DUE_DAYS', {
      group: 'billing',
      ...wholeNumber(0, 365),
      default: '30',
      description: "days until an invoice is due (Stripe's `days_until_due`)",
    }),
    invoicePrefix: variable('INVOICE_PREFIX', {
      group: 'billing',
      schema: z
        .string()
        .refine((prefix) => /^[A-Z0-9]{1,10}$/.test(prefix), got('must be 1 to 10 upper-case letters or digits')),
      default: 'AH',
      description: '1–10 upper-case letters or digits: invoice numbers `AH-2024-01-000001-20240201`',
    }),
    autoSendInvoices: variable('AUTO_SEND_INVOICES', {
      group: 'billing',
      schema: flag,
      default: 'true',
      description:
        'have Stripe e-mail invoices as soon as they are finalized (a failed send is retried by `createInvoice` and ' +
        'reconciliation)',
    }),
    invoiceDeclineLimit: variable('PAYMENT_DECLINE_LIMIT_PER_INVOICE', {
      group: 'billing',
      ...wholeNumber(0, 1000),
      default: '5',
      description:
        'failed payment attempts (declines, unknown payment methods) on one invoice within ' +
        '`PAYMENT_DECLINE_WINDOW_INVOICE_S` after which paying it is refused until the window moves on or an admin ' +
        'lifts the limit (card testing); 0 = no limit',
    }),
    invoiceDeclineWindowSeconds: variable('PAYMENT_DECLINE_WINDOW_INVOICE_S', {
      group: 'billing',
      ...wholeNumber(1, 30 * 86400),
      default: '3600',
      description: 'the sliding window, in seconds, of `PAYMENT_DECLINE_LIMIT_PER_INVOICE`',
    }),
    userDeclineLimit: variable('PAYMENT_DECLINE_LIMIT_PER_USER', {
      group: 'billing',
      ...wholeNumber(0, 10000),
      default: '20',
      description:
        "failed payment attempts on all of one user's invoices within `PAYMENT_DECLINE_WINDOW_USER_S` after which " +
        'the user can pay nothing until the window moves on or an admin lifts the limit; 0 = no limit',
    }),
    userDeclineWindowSeconds: variable('PAYMENT_DECLINE_WINDOW_USER_S', {
      group: 'billing',
      ...wholeNumber(1, 30 * 86400),
      default: '86400',
      description: 'the sliding window, in seconds, of `PAYMENT_DECLINE_LIMIT_PER_USER`',
    }),
    usagePartitionsAhead: variable('USAGE_PARTITIONS_AHEAD', {
      group: 'billing',
      ...wholeNumber(0, 60),
      default: '3',
      description:
        'months of `usage_records` partitions created ahead of the current one, at start and by ' +
        '`npm run billing -- partitions ensure` (a month missing when usage arrives is created then)',
    }),
    usageRetentionMonths: variable('USAGE_RETENTION_MONTHS', {
      group: 'billing',
      ...wholeNumber(1, 1200),
      unset: 'keep every month',
      description:
        'months of raw usage events kept besides the current one: `npm run billing -- partitions drop` removes ' +
        "older months' partitions, refusing a month with unbilled usage (invoices read the day rollups, kept)",
    }),
    creditNoteResumeSeconds: variable('CREDIT_NOTE_RESUME_SECONDS', {
      group: 'billing',
      ...wholeNumber(0, 86_400),
      default: '30',
      description:
        'how often each instance resumes refunds and credit notes left pending because Stripe could not be reached ' +
        '(those pending at least this long): made in Stripe with their own idempotency key, or released when Stripe ' +
        'refuses them; 0 = only the caller’s retry and reconciliation',
    }),
  },
  company: {
    name: variable('COMPANY_NAME', {
      group: 'billing',
      schema: text,
      default: 'AgentHub',
      description:
        "the account name the local emulator shows on its hosted invoice pages (with real Stripe, the account's own " +
        'settings apply)',
    }),
    address: variable('COMPANY_ADDRESS', {
      group: 'billing',
      schema: text,
      default: '',
      description: 'company address; validated and printed by `config:check`, not sent to Stripe today',
    }),
    email: variable('COMPANY_EMAIL', {
      group: 'billing',
      schema: z.string().refine((email) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email), got('is not an e-mail address')),
      default: 'billing@agenthub.example',
      description:
        'company e-mail (must look like an address); validated and printed by `config:check`, not sent to Stripe today',
    }),
    phone: variable('COMPANY_PHONE', {
      group: 'billing',
      schema: text,
      default: '',
      description: 'company phone; validated and printed by `config:check`, not sent to Stripe today',
    }),
  },
  auth: {
    jwtSecret: variable('JWT_SECRET', {
      group: 'identity',
      schema: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)'),
      unset: 'development secret',
      secret: 'value',
      description:
        'HS256 shared secret, at least 32 characters. Unset (outside production, without `JWT_JWKS_URL`): a secret ' +
        'generated once into `DATA_DIR/dev-jwt-secret`, which `npm run token` uses too',
    }),
    previousJwtSecret: variable('JWT_PREVIOUS_SECRET', {
      group: 'identity',
      schema: z.string().min(32, 'must be at least 32 characters (HS256 needs a 256-bit secret)'),
      unset: 'only `JWT_SECRET`',
      secret: 'value',
      description:
        'while rotating `JWT_SECRET`: the secret it replaces, still accepted for tokens signed with it until they ' +
        'expire (new tokens are signed with `JWT_SECRET` only); only with `JWT_SECRET`. ' +
        '[Rotation](operations.md#rotating-the-jwt-secret)',
    }),
    jwksUrl: variable('JWT_JWKS_URL', {
      group: 'identity',
      schema: url(['http:', 'https:']),
      example: 'https://id.example.com/.well-known/jwks.json',
      description:
        "`http(s)://` URL of an identity provider's JWKS: tokens are verified with its keys (RS256, ES256, PS256, " +
        'EdDSA) instead; not together with `JWT_SECRET`; `npm run token` is then refused',
    }),
    issuer: variable('JWT_ISSUER', {
      group: 'identity',
      schema: text,
      example: 'https://id.example.com/',
      description: 'expected `iss` claim; required with `JWT_JWKS_URL`, checked whenever set',
    }),
    audience: variable('JWT_AUDIENCE', {
      group: 'identity',
      schema: text,
      example: 'agenthub-billing',
      description: 'expected `aud` claim; required with `JWT_JWKS_URL`, checked whenever set',
    }),
    maxLifetimeUserSeconds: variable('JWT_MAX_LIFETIME_USER_SECONDS', {
      group: 'identity',
      ...wholeNumber(60, 31_536_000),
      default: '86400',
      description:
        'longest a `user` token may live (`exp` minus `iat`, or minus now without `iat`); a longer one is refused ' +
        'with 401. Every token must carry `exp`',
    }),
    maxLifetimeAdminSeconds: variable('JWT_MAX_LIFETIME_ADMIN_SECONDS', {
      group: 'identity',
      ...wholeNumber(60, 31_536_000),
      default: '86400',
      description: 'longest an `admin` token may live, as for users',
    }),
    maxLifetimeServiceSeconds: variable('JWT_MAX_LIFETIME_SERVICE_SECONDS', {
      group: 'identity',
      ...wholeNumber(60, 31_536_000),
      default: '7776000',
      description: 'longest a `service` token (the platform backend) may live: 90 days by default',
    }),
    clockSkewSeconds: variable('JWT_CLOCK_SKEW_SECONDS', {
      group: 'identity',
      ...wholeNumber(0, 600),
      default: '60',
      description:
        "how far in the future a token's `iat` or `nbf` may be (the issuer's clock running ahead of ours); further " +
        'is refused with 401. `exp` gets no such grace',
    }),
  },
  graphql: {
    textLimits: {
      short: variable('GRAPHQL_MAX_SHORT_TEXT_LENGTH', {
        group: 'graphql',
        ...wholeNumber(16, 100_000),
        default: '500',
        description:
          'longest string, in characters, of an id-like GraphQL argument or input field (ids, user ids, codes, ' +
          'periods, currencies, cursors, idempotency keys, dates), literal or variable; longer is refused before ' +
          'any work (`GRAPHQL_VALIDATION_FAILED` for a literal, `BAD_USER_INPUT` for a variable). REST caps `user_id` ' +
          'at 500 too',
      }),
      long: variable('GRAPHQL_MAX_LONG_TEXT_LENGTH', {
        group: 'graphql',
        ...wholeNumber(16, 1_000_000),
        default: '5000',
        description: 'longest free text: arguments and input fields named `reason`, `description`, `name`, `message`',
      }),
      jsonValue: variable('GRAPHQL_MAX_METADATA_VALUE_LENGTH', {
        group: 'graphql',
        ...wholeNumber(16, 1_000_000),
        default: '2000',
        description: 'longest string inside a JSON argument (usage `metadata`); each of its keys is an id-like string',
      }),
    },
  },
  subscriptions: {
    maxConnections: variable('SUBSCRIPTION_MAX_CONNECTIONS', {
      group: 'subscriptions',
      ...wholeNumber(1, 1_000_000),
      default: '10000',
      description:
        'open WebSockets plus Server-Sent Event streams on this instance; one more is closed with 1013 (try again ' +
        'later) over WebSocket, answered 503 `TOO_MANY_CONNECTIONS` over SSE',
    }),
    maxPerConnection: variable('SUBSCRIPTION_MAX_PER_CONNECTION', {
      group: 'subscriptions',
      ...wholeNumber(1, 10_000),
      default: '50',
      description:
        'subscriptions open at once on one WebSocket (a page of 50 invoices, each watched); one more is refused ' +
        'with `TOO_MANY_SUBSCRIPTIONS`, the others go on. An SSE stream carries one',
    }),
    maxPerUser: variable('SUBSCRIPTION_MAX_PER_USER', {
      group: 'subscriptions',
      ...wholeNumber(1, 1_000_000),
      default: '200',
      description:
        'subscriptions open at once for one token subject (`sub`) on this instance, WebSocket and SSE together; one ' +
        'more is refused with `TOO_MANY_SUBSCRIPTIONS`',
    }),
    maxVariablesBytes: variable('SUBSCRIPTION_MAX_VARIABLES_BYTES', {
      group: 'subscriptions',
      ...wholeNumber(256, 16_777_216),
      default: '65536',
      description:
        "an operation's variables (as JSON) over WebSocket or SSE; larger is refused with `BAD_REQUEST` (HTTP 413 " +
        'over SSE). Large `recordUsage` batches go to `POST /graphql` (16 MB)',
    }),
    wsMaxPayloadBytes: variable('WS_MAX_PAYLOAD_BYTES', {
      group: 'subscriptions',
      ...wholeNumber(1024, 16_777_216),
      default: '1048576',
      description:
        'largest WebSocket message (1 MiB: a subscribe carries at most a 5,000-token document and its variables); a ' +
        'larger one closes the socket with 1009 before it is read. Also the body limit of `/graphql/stream`',
    }),
    wsMaxInitPayloadBytes: variable('WS_MAX_INIT_PAYLOAD_BYTES', {
      group: 'subscriptions',
      ...wholeNumber(64, 1_048_576),
      default: '8192',
      description:
        'the `connection_init` payload (as JSON): the token and a few parameters; larger closes the socket with ' +
        '4400',
    }),
  },
  usageIntake: {
    mode: variable('USAGE_INGEST', {
      group: 'usageIntake',
      schema: z.enum(USAGE_INGEST_MODES, { errorMap: listError('must be direct or jetstream') }),
      values: USAGE_INGEST_MODES,
      default: 'direct',
      description:
        '`direct`: `recordUsage` and `POST /api/v1/usage` write the batch to the database before answering. ' +
        '`jetstream`: they answer once NATS JetStream has stored the batch, and every instance writes the stream to ' +
        'the database in large batches (usage is accepted while the database is down). [Scaling](scaling.md)',
    }),
    natsUrl: variable('NATS_URL', {
      group: 'usageIntake',
      schema: natsServers,
      default: 'nats://127.0.0.1:4222',
      secret: 'url-password',
      description: 'NATS servers of the JetStream cluster (`nats://host:4222`, several separated by commas)',
    }),
    stream: variable('USAGE_JETSTREAM_STREAM', {
      group: 'usageIntake',
      schema: natsName,
      default: 'AGENTHUB_USAGE',
      description: 'the JetStream stream of usage events, created at start when missing (work-queue retention)',
    }),
    subject: variable('USAGE_JETSTREAM_SUBJECT', {
      group: 'usageIntake',
      schema: natsSubject,
      default: 'agenthub.usage',
      description: 'the subject usage events are published on (the stream holds this subject only)',
    }),
    consumer: variable('USAGE_JETSTREAM_CONSUMER', {
      group: 'usageIntake',
      schema: natsName,
      default: 'usage-writer',
      description: 'the durable pull consumer every instance shares to write the stream to the database',
    }),
    replicas: variable('USAGE_JETSTREAM_REPLICAS', {
      group: 'usageIntake',
      ...wholeNumber(1, 5),
      default: '1',
      description: 'copies of the stream a NATS cluster keeps when it creates it (3 on a three-node cluster)',
    }),
    duplicateWindowSeconds: variable('USAGE_JETSTREAM_DUPLICATE_WINDOW_S', {
      group: 'usageIntake',
      ...wholeNumber(1, 7 * 86_400),
      default: '3600',
      description:
        'how long the stream remembers a customer + idempotency key to drop a retried event (`Nats-Msg-Id`); the ' +
        "database's unique key catches a retry after it",
    }),
    writeBatch: variable('USAGE_JETSTREAM_WRITE_BATCH', {
      group: 'usageIntake',
      ...wholeNumber(1, 50_000),
      default: '10000',
      description: 'most events one database write takes from the stream (one `COPY` and one insert)',
    }),
    retryMs: variable('USAGE_JETSTREAM_RETRY_MS', {
      group: 'usageIntake',
      ...wholeNumber(1, 60_000),
      default: '500',
      description:
        'first wait before a failed database write is tried again (the database unreachable); doubles up to 10 s',
    }),
  },
  webhooks: {
    workerEnabled: variable('WEBHOOK_WORKER_ENABLED', {
      group: 'webhooks',
      schema: flag,
      default: 'true',
      description: 'run the worker in this instance (`false`: receive and store only)',
    }),
    batchSize: variable('WEBHOOK_WORKER_BATCH_SIZE', {
      group: 'webhooks',
      ...wholeNumber(1, 500),
      default: '100',
      description: 'events claimed per transaction (larger: fewer statements per event, invoices locked longer)',
    }),
    pollIntervalMs: variable('WEBHOOK_WORKER_POLL_MS', {
      group: 'webhooks',
      ...wholeNumber(10, 60_000),
      default: '100',
      description: 'idle poll interval: how soon an event stored by another instance is picked up',
    }),
    maxAttempts: variable('WEBHOOK_RETRY_MAX_ATTEMPTS', {
      group: 'webhooks',
      ...wholeNumber(1, 100),
      default: '8',
      description: 'attempts before an event is marked `failed`',
    }),
    retryBaseMs: variable('WEBHOOK_RETRY_BASE_MS', {
      group: 'webhooks',
      ...wholeNumber(1, 3_600_000),
      default: '2000',
      description: 'first retry delay, doubling with every attempt (8 attempts from 2 s span about four minutes)',
    }),
    retryMaxMs: variable('WEBHOOK_RETRY_MAX_MS', {
      group: 'webhooks',
      ...wholeNumber(1, 86_400_000),
      default: '900000',
      description: 'upper bound of one retry delay (15 minutes)',
    }),
    handlerTimeoutMs: variable('WEBHOOK_HANDLER_TIMEOUT_MS', {
      group: 'webhooks',
      ...wholeNumber(100, 600_000),
      default: '10000',
      description:
        'longest any statement or lock wait may take while applying a batch (PostgreSQL); the event is then retried',
    }),
    maxPendingAgeSeconds: variable('WEBHOOK_HEALTH_MAX_PENDING_AGE_S', {
      group: 'webhooks',
      ...wholeNumber(1, 86_400),
      default: '300',
      description: 'the webhook health turns 503 when the oldest pending event is older than this',
    }),
    rateLimitPerSecond: variable('WEBHOOK_RATE_LIMIT_PER_SECOND', {
      group: 'webhooks',
      ...wholeNumber(0, 100_000),
      default: '100',
      description: 'per-IP limit on the webhook route, sustained requests per second (0 = off)',
    }),
    rateLimitBurst: variable('WEBHOOK_RATE_LIMIT_BURST', {
      group: 'webhooks',
      ...wholeNumber(1, 1_000_000),
      default: '500',
      description: 'per-IP burst on the webhook route',
    }),
  },
  outgoingWebhooks: {
    workerEnabled: variable('OUTGOING_WEBHOOK_WORKER_ENABLED', {
      group: 'outgoingWebhooks',
      schema: flag,
      default: 'true',
      description: 'deliver outgoing webhooks from this instance (every instance may: deliveries are claimed)',
    }),
    batchSize: variable('OUTGOING_WEBHOOK_BATCH_SIZE', {
      group: 'outgoingWebhooks',
      ...wholeNumber(1, 500),
      default: '20',
      description: 'deliveries claimed (and sent concurrently) per round',
    }),
    pollIntervalMs: variable('OUTGOING_WEBHOOK_POLL_MS', {
      group: 'outgoingWebhooks',
      ...wholeNumber(10, 60_000),
      default: '5000',
      description:
        'fallback poll: workers wake on NOTIFY when a delivery is queued; the poll finds expired leases and retries left by a stopped instance',
    }),
    timeoutMs: variable('OUTGOING_WEBHOOK_TIMEOUT_MS', {
      group: 'outgoingWebhooks',
      ...wholeNumber(100, 60_000),
      default: '15000',
      description: 'how long a receiver may take to answer before the attempt counts as failed',
    }),
    leaseMs: variable('OUTGOING_WEBHOOK_LEASE_MS', {
      group: 'outgoingWebhooks',
      ...wholeNumber(1_000, 3_600_000),
      default: '60000',
      description: 'a claimed delivery is taken up by another instance after this long (its instance died)',
    }),
    retryBaseMs: variable('OUTGOING_WEBHOOK_RETRY_BASE_MS', {
      group: 'outgoingWebhooks',
      ...wholeNumber(1, 3_600_000),
      default: '30000',
      description: 'first retry delay, doubling with every attempt',
    }),
    retryMaxMs: variable('OUTGOING_WEBHOOK_RETRY_MAX_MS', {
      group: 'outgoingWebhooks',
      ...wholeNumber(1, 86_400_000),
      default: '21600000',
      description: 'upper bound of one retry delay (6 hours)',
    }),
    retryWindowHours: variable('OUTGOING_WEBHOOK_RETRY_WINDOW_HOURS', {
      group: 'outgoingWebhooks',
      ...wholeNumber(1, 720),
      default: '72',
      description:
        'a delivery is retried this long after its first attempt, then marked failed and its endpoint disabled',
    }),
    allowPrivateHosts: variable('OUTGOING_WEBHOOK_ALLOW_PRIVATE_HOSTS', {
      group: 'outgoingWebhooks',
      schema: flag,
      default: 'false',
      defaultInTest: 'true',
      description:
        'allow endpoints on localhost and private addresses (development and tests); off, they are refused (SSRF)',
    }),
  },
  secretsEncryptionKeys: variable('SECRETS_ENCRYPTION_KEYS', {
    group: 'outgoingWebhooks',
    schema: encryptionKeys,
    unset: 'development key',
    secret: 'value',
    example: 'k1:<output of openssl rand -base64 32>',
    description:
      'the keys that encrypt the signing secrets of outgoing webhook endpoints in the database (AES-256-GCM): ' +
      'comma-separated `<key id>:<base64 of 32 bytes>`; the first seals new secrets, every one opens. Unset ' +
      '(outside production): a key generated once into `DATA_DIR/dev-secrets-key`. Required in production. ' +
      '[Rotation](operations.md#rotating-the-secrets-encryption-key)',
  }),
  scheduler: {
    enabled: variable('BILLING_SCHEDULER_ENABLED', {
      group: 'scheduler',
      schema: flag,
      default: 'true',
      description: 'run the scheduler in this instance',
    }),
    graceMinutes: variable('BILLING_GRACE_MINUTES', {
      group: 'scheduler',
      ...wholeNumber(0, 7 * 24 * 60),
      default: '60',
      description: 'a month is billed this long after it ends (late usage still arriving)',
    }),
    intervalSeconds: variable('BILLING_SCHEDULER_INTERVAL_SECONDS', {
      group: 'scheduler',
      ...wholeNumber(1, 86_400),
      default: '60',
      description: 'how often the scheduler checks whether a month is due (and joins a run in progress)',
    }),
    concurrency: variable('BILLING_CONCURRENCY', {
      group: 'scheduler',
      ...wholeNumber(1, 32),
      default: '4',
      description: 'customers invoiced at once during a run (Stripe calls are paced by the client-side limiter anyway)',
    }),
    catchUpMonths: variable('BILLING_CATCH_UP_MONTHS', {
      group: 'scheduler',
      ...wholeNumber(0, 24),
      default: '3',
      description:
        'at start and each new month: re-run this many earlier months that hold usage on no invoice (0 = off)',
    }),
  },
  dunning: {
    retryDays: variable('DUNNING_RETRY_DAYS', {
      group: 'dunning',
      schema: retryDays,
      unset: 'off: no dunning',
      example: '1,3,5,7',
      description:
        'turns dunning on: the days (after the first failed payment, or after the due date with ' +
        '`DUNNING_START=due_date`) on which an unpaid invoice gets a reminder and a retry with the payment method ' +
        'its customer last paid with; after the last one, `DUNNING_FINAL_ACTION`',
    }),
    start: variable('DUNNING_START', {
      group: 'dunning',
      schema: z.enum(['failure', 'due_date'], { errorMap: listError('must be failure or due_date') }),
      default: 'failure',
      values: ['failure', 'due_date'],
      description:
        'when dunning starts: at the first failed payment (`failure`), or when an open invoice passes its due date ' +
        '(`due_date`, also for invoices nobody tried to pay)',
    }),
    reminders: variable('DUNNING_REMINDERS', {
      group: 'dunning',
      schema: flag,
      default: 'true',
      description: 'have Stripe e-mail the invoice again at each dunning step',
    }),
    finalAction: variable('DUNNING_FINAL_ACTION', {
      group: 'dunning',
      schema: z.enum(['uncollectible', 'none'], { errorMap: listError('must be uncollectible or none') }),
      default: 'uncollectible',
      values: ['uncollectible', 'none'],
      description:
        'after the last retry failed: mark the invoice uncollectible (in Stripe and here), or leave it as it is',
    }),
    intervalSeconds: variable('DUNNING_INTERVAL_SECONDS', {
      group: 'dunning',
      ...wholeNumber(0, 86_400),
      default: '60',
      description:
        'how often each instance looks for dunning steps that are due; 0 = never on its own (steps then run only ' +
        'when asked, e.g. by tests that move the clock)',
    }),
    leaseSeconds: variable('DUNNING_LEASE_SECONDS', {
      group: 'dunning',
      ...wholeNumber(10, 86_400),
      default: '300',
      description:
        'a claimed step not finished within this time (its instance died) is taken over by another instance, which ' +
        'resumes it (the same Stripe idempotency keys: nothing is charged or sent twice)',
    }),
  },
  browser: {
    explorer: variable('GRAPHQL_EXPLORER', {
      group: 'browser',
      schema: flag,
      unset: 'on, except in production',
      example: 'false',
      description:
        'serve the GraphiQL explorer (bundled, no CDN) to browsers at `/graphql`: a `GET` that prefers ' +
        '`text/html`. Unset: on unless `NODE_ENV=production`. In production its schema docs stay empty, since ' +
        'introspection is refused there',
    }),
    dashboardDir: variable('DASHBOARD_DIR', {
      group: 'browser',
      schema: z.string().transform((dir) => path.resolve(dir)),
      default: 'dist/dashboard',
      description:
        'folder of the built dashboard and explorer (`npm run build` writes it); served at `/` with a fallback ' +
        'to `index.html` for pages. Missing: `/` answers 404 and browsers get no explorer',
    }),
  },
  monitoring: {
    metricsToken: variable('METRICS_TOKEN', {
      group: 'monitoring',
      schema: z.string().min(32, 'must be at least 32 characters'),
      unset: 'admin or service JWT only',
      secret: 'value',
      description:
        'a bearer token, at least 32 characters, that lets a Prometheus scraper read `/metrics` (`Authorization: ' +
        'Bearer <token>` or `bearer_token` in the scrape config). Admin and service JWTs are accepted too',
    }),
    otlpEndpoint: variable('OTEL_EXPORTER_OTLP_ENDPOINT', {
      group: 'monitoring',
      schema: url(['http:', 'https:']),
      unset: 'no traces',
      secret: 'url-password',
      example: 'http://otel-collector:4318',
      description:
        'OpenTelemetry traces to this OTLP collector (spans go to `<endpoint>/v1/traces`): HTTP requests with ' +
        'their request id, GraphQL operations, PostgreSQL queries and Stripe calls with our invoice id. The other ' +
        'standard `OTEL_*` variables apply: `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the default, ' +
        '`http/json` or `grpc`), `OTEL_SERVICE_NAME` (default `agenthub-billing`), `OTEL_EXPORTER_OTLP_HEADERS`, ' +
        '`OTEL_TRACES_SAMPLER`. Unset: the tracing SDK is not even loaded',
    }),
  },
};

// --- Types derived from the tree -----------------------------------------------------------------------------

type Expand<T> = T extends infer O ? { [K in keyof O]: O[K] } : never;
type SettingOf<V> = V extends ConfigVariable<string, infer S, boolean> ? z.output<S> : never;

/** The settings a tree of variables yields: optional properties for variables without a default. */
export type SettingsOf<Tree> = Expand<
  {
    [K in keyof Tree as Tree[K] extends ConfigVariable<string, AnySchema, false> ? K : never]?: SettingOf<Tree[K]>;
  } & {
    [
      K in keyof Tree as Tree[K] extends ConfigVariable<string, AnySchema, false> ? never : K
    ]: Tree[K] extends AnyVariable ? SettingOf<Tree[K]> : SettingsOf<Tree[K]>;
  }
>;

/** Every setting read from a variable (config.ts adds what is computed from them, such as the Stripe mode). */
export type ConfigSettings = SettingsOf<typeof CONFIG_SCHEMA>;

type NamesOf<Tree> = {
  [K in keyof Tree]: Tree[K] extends ConfigVariable<infer N, AnySchema, boolean> ? N : NamesOf<Tree[K]>;
}[keyof Tree];
export type VariableName = NamesOf<typeof CONFIG_SCHEMA>;

/** One variable with where its setting lives in the configuration (`['stripe', 'secretKey']`). */
export interface PlacedVariable extends AnyVariable {
  readonly name: VariableName;
  readonly path: readonly string[];
}

function flatten(tree: object, at: string[] = []): PlacedVariable[] {
  return Object.entries(tree).flatMap(([key, node]: [string, unknown]) =>
    isConfigVariable(node)
      ? [{ ...node, name: node.name as VariableName, path: [...at, key] }]
      : flatten(node as object, [...at, key]),
  );
}

/** Every variable, in the documentation's order. */
export const CONFIG_VARIABLES: readonly PlacedVariable[] = flatten(CONFIG_SCHEMA);

// --- Rules across variables ----------------------------------------------------------------------------------

/**
 * A rule that involves more than one variable, checked after each variable is parsed. `settings` holds every
 * setting (a variable that failed to parse has its default, or is undefined); `isSet` tells whether a variable has a
 * value at all, valid or not (a bad JWT_JWKS_URL still means "JWKS was asked for").
 */
export interface ConfigRule {
  variable: VariableName;
  /** The problem, or undefined when the rule holds. */
  check(settings: ConfigSettings, isSet: (name: VariableName) => boolean): string | undefined;
}

const production = (s: ConfigSettings): boolean => s.nodeEnv === 'production';

export const CONFIG_RULES: readonly ConfigRule[] = [
  {
    variable: 'DATABASE_URL',
    check: (s, isSet) =>
      production(s) && !isSet('DATABASE_URL')
        ? 'is required when NODE_ENV=production (the embedded PGlite database is for development only); ' +
          'set it to postgres://user:password@host:5432/dbname'
        : undefined,
  },
  {
    variable: 'STRIPE_SECRET_KEY',
    check: (s, isSet) =>
      production(s) && !isSet('STRIPE_SECRET_KEY')
        ? 'is required when NODE_ENV=production (the local Stripe emulator is for development only)'
        : undefined,
  },
  {
    variable: 'STRIPE_PUBLISHABLE_KEY',
    check: ({ stripe }) => {
      const keyMode = stripeKeyMode(stripe.secretKey);
      const publishableMode = /^pk_(test|live)_/.exec(stripe.publishableKey ?? '')?.[1];
      return keyMode && publishableMode && publishableMode !== keyMode
        ? `is a ${publishableMode}-mode key but STRIPE_SECRET_KEY is a ${keyMode}-mode key`
        : undefined;
    },
  },
  {
    variable: 'STRIPE_WEBHOOK_SECRET',
    check: (s, isSet) =>
      production(s) && !isSet('STRIPE_WEBHOOK_SECRET')
        ? 'is required when NODE_ENV=production so that webhooks can be verified'
        : undefined,
  },
  {
    variable: 'SECRETS_ENCRYPTION_KEYS',
    check: (s, isSet) =>
      production(s) && !isSet('SECRETS_ENCRYPTION_KEYS')
        ? 'is required when NODE_ENV=production: it encrypts the signing secrets of outgoing webhook endpoints ' +
          '(e.g. k1:<output of openssl rand -base64 32>)'
        : undefined,
  },
  {
    variable: 'STRIPE_API_BASE',
    check: ({ stripe }, isSet) =>
      isSet('STRIPE_API_BASE') && stripeKeyMode(stripe.secretKey) === 'live'
        ? 'must not be set together with a live-mode STRIPE_SECRET_KEY'
        : undefined,
  },
  {
    variable: 'JWT_PREVIOUS_SECRET',
    check: ({ auth }, isSet) =>
      isSet('JWT_PREVIOUS_SECRET') && !isSet('JWT_SECRET')
        ? 'is only used with JWT_SECRET (the secret that replaces it)'
        : auth.previousJwtSecret !== undefined && auth.previousJwtSecret === auth.jwtSecret
          ? 'must differ from JWT_SECRET'
          : undefined,
  },
  {
    variable: 'JWT_SECRET',
    check: (s, isSet) =>
      production(s) && !isSet('JWT_SECRET') && !isSet('JWT_JWKS_URL')
        ? 'set JWT_SECRET or JWT_JWKS_URL (+ JWT_ISSUER, JWT_AUDIENCE) when NODE_ENV=production'
        : undefined,
  },
  {
    variable: 'JWT_JWKS_URL',
    check: (_s, isSet) =>
      isSet('JWT_SECRET') && isSet('JWT_JWKS_URL')
        ? 'set either JWT_SECRET (HS256) or JWT_JWKS_URL, not both'
        : undefined,
  },
  {
    variable: 'WS_MAX_INIT_PAYLOAD_BYTES',
    check: ({ subscriptions }) =>
      subscriptions.wsMaxInitPayloadBytes > subscriptions.wsMaxPayloadBytes
        ? `must not exceed WS_MAX_PAYLOAD_BYTES (${subscriptions.wsMaxPayloadBytes})`
        : undefined,
  },
  {
    variable: 'SUBSCRIPTION_MAX_VARIABLES_BYTES',
    check: ({ subscriptions }) =>
      subscriptions.maxVariablesBytes > subscriptions.wsMaxPayloadBytes
        ? `must not exceed WS_MAX_PAYLOAD_BYTES (${subscriptions.wsMaxPayloadBytes})`
        : undefined,
  },
  {
    variable: 'JWT_ISSUER',
    check: (_s, isSet) => (isSet('JWT_JWKS_URL') && !isSet('JWT_ISSUER') ? 'is required with JWT_JWKS_URL' : undefined),
  },
  {
    variable: 'JWT_AUDIENCE',
    check: (_s, isSet) =>
      isSet('JWT_JWKS_URL') && !isSet('JWT_AUDIENCE') ? 'is required with JWT_JWKS_URL' : undefined,
  },
];

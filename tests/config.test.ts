import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, readEnv } from '../src/config/config';
import { describeConfig, maskSecret } from '../src/config/describe-config';

function problems(env: Record<string, string>): Record<string, string> {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return Object.fromEntries(error.problems.map((p) => [p.variable, p.message]));
    }
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('has the documented defaults on an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 8000,
      databaseUrl: undefined,
      stripe: { mode: 'emulator', secretKey: undefined },
      billing: { defaultCurrency: 'usd', invoiceDueDays: 30, invoicePrefix: 'AH', autoSendInvoices: true },
    });
  });

  it('reads every variable of the payment guide', () => {
    const config = loadConfig({
      STRIPE_SECRET_KEY: 'sk_test_51abcdefghijklmnopqrstuvwxyz',
      STRIPE_PUBLISHABLE_KEY: 'pk_test_51abcdefghijklmnopqrstuvwxyz',
      STRIPE_WEBHOOK_SECRET: 'whsec_abcdefghijklmnop',
      DEFAULT_CURRENCY: 'EUR',
      INVOICE_DUE_DAYS: '14',
      COMPANY_NAME: 'AgentHub Inc.',
      COMPANY_ADDRESS: '1 Main St',
      COMPANY_EMAIL: 'billing@agenthub.ai',
      COMPANY_PHONE: '+1 555 0100',
      INVOICE_PREFIX: 'INV',
      AUTO_SEND_INVOICES: 'false',
      DATABASE_URL: 'postgres://u:p@db:5432/billing',
      PORT: '9000',
      LOG_LEVEL: 'debug',
    });
    expect(config.stripe.mode).toBe('test');
    expect(config.billing).toEqual({
      defaultCurrency: 'eur',
      invoiceDueDays: 14,
      invoicePrefix: 'INV',
      autoSendInvoices: false,
      // Not in the guide: the payment attempt limits' defaults.
      invoiceDeclineLimit: 5,
      invoiceDeclineWindowSeconds: 3600,
      userDeclineLimit: 20,
      userDeclineWindowSeconds: 86400,
      creditNoteResumeSeconds: 30,
      // Not in the guide: monthly usage partitions created ahead, every month kept.
      usagePartitionsAhead: 3,
      usageRetentionMonths: undefined,
    });
    expect(config.company).toEqual({
      name: 'AgentHub Inc.',
      address: '1 Main St',
      email: 'billing@agenthub.ai',
      phone: '+1 555 0100',
    });
    expect(config.port).toBe(9000);
    expect(config.logLevel).toBe('debug');
  });

  it('names every bad variable at once', () => {
    const found = problems({
      STRIPE_SECRET_KEY: 'pk_test_abc',
      STRIPE_WEBHOOK_SECRET: 'secret',
      INVOICE_DUE_DAYS: 'thirty',
      DEFAULT_CURRENCY: 'xyz',
      AUTO_SEND_INVOICES: 'maybe',
      PORT: '99999',
      INVOICE_PREFIX: 'ah-',
      LOG_LEVEL: 'loud',
      NODE_ENV: 'staging',
      COMPANY_EMAIL: 'nobody',
      DATABASE_URL: 'mysql://x',
      JWT_SECRET: 'short',
    });
    expect(Object.keys(found).sort()).toEqual(
      [
        'AUTO_SEND_INVOICES',
        'COMPANY_EMAIL',
        'DATABASE_URL',
        'DEFAULT_CURRENCY',
        'INVOICE_DUE_DAYS',
        'INVOICE_PREFIX',
        'JWT_SECRET',
        'LOG_LEVEL',
        'NODE_ENV',
        'PORT',
        'STRIPE_SECRET_KEY',
        'STRIPE_WEBHOOK_SECRET',
      ].sort(),
    );
    expect(found.STRIPE_SECRET_KEY).toMatch(/publishable key/);
    expect(found.STRIPE_WEBHOOK_SECRET).toMatch(/whsec_/);
    expect(found.INVOICE_DUE_DAYS).toMatch(/whole number/);
    expect(found.DEFAULT_CURRENCY).toMatch(/ISO 4217/);
  });

  it('never echoes a secret value in an error', () => {
    let message = '';
    try {
      loadConfig({ STRIPE_SECRET_KEY: 'sk_wrong_supersecretvalue', DATABASE_URL: 'not a url with p4ssw0rd' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('STRIPE_SECRET_KEY');
    expect(message).toContain('DATABASE_URL');
    expect(message).not.toContain('supersecretvalue');
    expect(message).not.toContain('p4ssw0rd');
  });

  it('rejects mixed test and live keys, and a secret key in the publishable slot', () => {
    expect(
      problems({ STRIPE_SECRET_KEY: 'sk_live_abcdef', STRIPE_PUBLISHABLE_KEY: 'pk_test_abcdef' })
        .STRIPE_PUBLISHABLE_KEY,
    ).toMatch(/test-mode key but STRIPE_SECRET_KEY is a live-mode key/);
    expect(problems({ STRIPE_PUBLISHABLE_KEY: 'sk_test_abcdef' }).STRIPE_PUBLISHABLE_KEY).toMatch(/secret key/);
  });

  it('lists the problems in the schema order, a bad value still counting as set for the rules', () => {
    let error: unknown;
    try {
      loadConfig({ BILLING_CONCURRENCY: '0', JWT_JWKS_URL: 'not a url', JWT_SECRET: 'x'.repeat(32), PORT: 'x' });
    } catch (caught) {
      error = caught;
    }
    expect((error as ConfigError).problems).toEqual([
      { variable: 'PORT', message: 'must be a whole number from 0 to 65535 (got "x")' },
      { variable: 'JWT_JWKS_URL', message: 'is not a valid URL' },
      { variable: 'JWT_JWKS_URL', message: 'set either JWT_SECRET (HS256) or JWT_JWKS_URL, not both' },
      { variable: 'JWT_ISSUER', message: 'is required with JWT_JWKS_URL' },
      { variable: 'JWT_AUDIENCE', message: 'is required with JWT_JWKS_URL' },
      { variable: 'BILLING_CONCURRENCY', message: 'must be a whole number from 1 to 32 (got "0")' },
    ]);
  });

  it('bounds the streams with their defaults, and keeps the smaller WebSocket bounds within the message size', () => {
    expect(loadConfig({}).subscriptions).toEqual({
      maxConnections: 10_000,
      maxPerConnection: 50,
      maxPerUser: 200,
      maxVariablesBytes: 65_536,
      wsMaxPayloadBytes: 1_048_576,
      wsMaxInitPayloadBytes: 8192,
    });
    expect(
      problems({
        WS_MAX_PAYLOAD_BYTES: '4096',
        WS_MAX_INIT_PAYLOAD_BYTES: '8192',
        SUBSCRIPTION_MAX_VARIABLES_BYTES: '5000',
      }),
    ).toEqual({
      WS_MAX_INIT_PAYLOAD_BYTES: 'must not exceed WS_MAX_PAYLOAD_BYTES (4096)',
      SUBSCRIPTION_MAX_VARIABLES_BYTES: 'must not exceed WS_MAX_PAYLOAD_BYTES (4096)',
    });
    expect(problems({ SUBSCRIPTION_MAX_PER_CONNECTION: '0' }).SUBSCRIPTION_MAX_PER_CONNECTION).toBe(
      'must be a whole number from 1 to 10000 (got "0")',
    );
  });

  it('requires JWKS issuer and audience together', () => {
    const found = problems({ JWT_JWKS_URL: 'https://id.example/.well-known/jwks.json' });
    expect(Object.keys(found).sort()).toEqual(['JWT_AUDIENCE', 'JWT_ISSUER']);
  });

  it('refuses the embedded defaults in production and says what to set', () => {
    const found = problems({ NODE_ENV: 'production' });
    expect(found.DATABASE_URL).toMatch(/required when NODE_ENV=production.*postgres:\/\//);
    expect(found.STRIPE_SECRET_KEY).toMatch(/required when NODE_ENV=production/);
    // Named at once with the key, not only once the key is fixed.
    expect(found.STRIPE_WEBHOOK_SECRET).toMatch(/required when NODE_ENV=production/);
    expect(found.JWT_SECRET).toMatch(/JWT_SECRET or JWT_JWKS_URL/);
    expect(found.SECRETS_ENCRYPTION_KEYS).toMatch(/required when NODE_ENV=production: it encrypts the signing secrets/);
  });

  describe('SECRETS_ENCRYPTION_KEYS', () => {
    // Random per run: no key material lives in the repository.
    const key = (bytes = 32): string => randomBytes(bytes).toString('base64');

    it('reads kid:base64 keys, the first sealing, in base64 or base64url, and prints only their ids', () => {
      const first = randomBytes(32);
      const second = randomBytes(32);
      const raw = `k2:${first.toString('base64url')}, k1:${second.toString('base64')}`;
      const config = loadConfig({ SECRETS_ENCRYPTION_KEYS: raw });
      expect(config.secretsEncryptionKeys).toEqual([
        { kid: 'k2', key: first },
        { kid: 'k1', key: second },
      ]);
      const printed = Object.fromEntries(describeConfig(config));
      expect(printed.SECRETS_ENCRYPTION_KEYS).toBe('2 keys: k2 (seals), k1');
      expect(loadConfig({ DATA_DIR: '/tmp/d' }).secretsEncryptionKeys).toBeUndefined();
      expect(Object.fromEntries(describeConfig(loadConfig({ DATA_DIR: '/tmp/d' }))).SECRETS_ENCRYPTION_KEYS).toBe(
        '(development key in /tmp/d/dev-secrets-key)',
      );
    });

    it.each([
      [
        'a key of the wrong length',
        () => `k1:${key(16)}`,
        /key "k1" must be 32 bytes \(AES-256\) once decoded; it is 16/,
      ],
      ['a key that is not base64', () => 'k1:not*base64!', /key "k1" is not base64/],
      ['the same key id twice', () => `k1:${key()},k1:${key()}`, /lists the key id "k1" twice/],
      ['an entry without an id', () => key(), /entry 1 must be <key id>:<base64 key>/],
      ['an empty entry', () => `k1:${key()},`, /entry 2 must be <key id>:<base64 key>/],
    ])('refuses %s, never echoing a key', (_what, value, message) => {
      const raw = value();
      const found = problems({ SECRETS_ENCRYPTION_KEYS: raw });
      expect(found.SECRETS_ENCRYPTION_KEYS).toMatch(message);
      for (const part of raw.split(/[,:]/).filter((p) => p.length > 8)) {
        expect(found.SECRETS_ENCRYPTION_KEYS).not.toContain(part);
      }
    });

    it('names every bad entry, each once, and no key of them', () => {
      const good = key();
      const raw = [`k1:${good}`, `k2:${key(16)}`, 'k3:not*base64!', key(), `k1:${key()}`, `k5:${good}`].join(',');
      let error: unknown;
      try {
        loadConfig({ SECRETS_ENCRYPTION_KEYS: raw });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const { problems: all, message } = error as ConfigError;
      expect(all.filter((p) => p.variable === 'SECRETS_ENCRYPTION_KEYS').map((p) => p.message)).toEqual([
        'key "k2" must be 32 bytes (AES-256) once decoded; it is 16',
        'key "k3" is not base64',
        expect.stringMatching(/^entry 4 must be <key id>:<base64 key>/),
        'lists the key id "k1" twice',
        'key "k5" is the same key as "k1"',
      ]);
      expect(message).toMatch(/^Invalid configuration \(5 problems\):/);
      for (const part of raw.split(/[,:]/).filter((p) => p.length > 8)) {
        expect(message).not.toContain(part);
      }
    });

    it('refuses one key under two ids', () => {
      const same = key();
      expect(problems({ SECRETS_ENCRYPTION_KEYS: `a:${same},b:${same}` }).SECRETS_ENCRYPTION_KEYS).toBe(
        'key "b" is the same key as "a"',
      );
    });
  });

  it('reads a .env file, with the process environment taking precedence', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    const file = path.join(dir, '.env');
    writeFileSync(file, 'INVOICE_PREFIX=FILE\nINVOICE_DUE_DAYS=7\n');
    const config = loadConfig(readEnv({ INVOICE_PREFIX: 'ENV' }, file));
    expect(config.billing.invoicePrefix).toBe('ENV');
    expect(config.billing.invoiceDueDays).toBe(7);
  });

  it('prints the effective configuration with secrets masked', () => {
    const config = loadConfig({
      STRIPE_SECRET_KEY: 'sk_test_51verysecretkeymaterial1234',
      STRIPE_WEBHOOK_SECRET: 'whsec_verysecretwebhookmaterial',
      DATABASE_URL: 'postgres://billing:hunter2@db:5432/billing',
      JWT_SECRET: 'a-jwt-secret-that-is-long-enough-to-pass',
    });
    const printed = describeConfig(config)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    expect(printed).toContain('STRIPE_SECRET_KEY=sk_test_…1234');
    expect(printed).not.toContain('verysecretkeymaterial');
    expect(printed).not.toContain('verysecretwebhookmaterial');
    expect(printed).not.toContain('hunter2');
    expect(printed).not.toContain('long-enough-to-pass');
    expect(maskSecret('whsec_short')).toBe('whsec_…');
  });
});

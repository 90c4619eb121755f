#!/usr/bin/env node
/**
 * Local Stripe emulator CLI: `node dist/emulator/main.js [--port 12111] [--host 127.0.0.1]
 * [--webhook-url URL] [--webhook-secret whsec_…] [--rate-limit 25] [--state-file .data/stripe-emulator.json]`.
 * Env fallbacks: STRIPE_EMULATOR_PORT, STRIPE_EMULATOR_HOST, STRIPE_EMULATOR_WEBHOOK_URL,
 * STRIPE_WEBHOOK_SECRET, STRIPE_EMULATOR_RATE_LIMIT, STRIPE_EMULATOR_STATE_FILE, STRIPE_EMULATOR_PUBLIC_URL.
 */
import { startEmulator, type EmulatorOptions } from './server';

const FLAGS = ['port', 'host', 'webhook-url', 'webhook-secret', 'rate-limit', 'state-file', 'public-url'] as const;
type Flag = (typeof FLAGS)[number];

export function parseArgs(argv: string[]): Partial<Record<Flag, string>> {
  const out: Partial<Record<Flag, string>> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`Usage: stripe-emulator ${FLAGS.map((f) => `[--${f} VALUE]`).join(' ')}\n`);
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(FLAGS as readonly string[]).includes(m[1])) {
      throw new Error(`Unknown argument: ${arg}`);
    }
    const value = m[2] ?? argv[++i];
    if (value === undefined) {
      throw new Error(`Missing value for --${m[1]}`);
    }
    out[m[1] as Flag] = value;
  }
  return out;
}

function toInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  }
  return n;
}

export function optionsFrom(argv: string[], env: NodeJS.ProcessEnv): EmulatorOptions {
  const a = parseArgs(argv);
  return {
    port: toInt('--port', a.port ?? env.STRIPE_EMULATOR_PORT) ?? 12111,
    host: a.host ?? env.STRIPE_EMULATOR_HOST ?? '127.0.0.1',
    webhookUrl: a['webhook-url'] ?? env.STRIPE_EMULATOR_WEBHOOK_URL,
    webhookSecret: a['webhook-secret'] ?? env.STRIPE_WEBHOOK_SECRET,
    rateLimit: toInt('--rate-limit', a['rate-limit'] ?? env.STRIPE_EMULATOR_RATE_LIMIT),
    stateFile: a['state-file'] ?? env.STRIPE_EMULATOR_STATE_FILE,
    publicBaseUrl: a['public-url'] ?? env.STRIPE_EMULATOR_PUBLIC_URL,
  };
}

async function main(): Promise<void> {
  const options = optionsFrom(process.argv.slice(2), process.env);
  const emulator = await startEmulator(options);
  process.stdout.write(
    `Stripe emulator listening on ${emulator.url} (API ${emulator.apiBase}, control ${emulator.controlUrl})\n`,
  );
  const { webhookUrl } = emulator.emulator.config;
  if (webhookUrl) {
    // Like `stripe listen`: a generated local test secret is shown once so the app can be configured with it;
    // a secret passed in by flag or environment is never printed.
    const secretNote = options.webhookSecret
      ? 'the configured signing secret'
      : `signing secret ${emulator.webhookSecret}`;
    process.stdout.write(`Forwarding events to ${webhookUrl} (${secretNote})\n`);
  }
  const shutdown = () => {
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}

#!/usr/bin/env node
/**
 * Local Stripe emulator CLI: `node dist/emulator/main.js [--port 12111] [--host 127.0.0.1]
 * [--webhook-url URL] [--webhook-secret whsec_…] [--rate-limit 25] [--state-file .data/stripe-emulator.json]
 * [--delivery realistic] [--delivery-seed N]`.
 * Env fallbacks: STRIPE_EMULATOR_PORT, STRIPE_EMULATOR_HOST, STRIPE_EMULATOR_WEBHOOK_URL,
 * STRIPE_WEBHOOK_SECRET, STRIPE_EMULATOR_RATE_LIMIT, STRIPE_EMULATOR_STATE_FILE, STRIPE_EMULATOR_PUBLIC_URL,
 * STRIPE_EMULATOR_DELIVERY, STRIPE_EMULATOR_DELIVERY_SEED.
 */
import { randomInt } from 'node:crypto';
import { parseArgs as parseCommandLine } from 'node:util';
import { startEmulator, type EmulatorOptions } from './server';

/** The emulator's options (Node's `util.parseArgs`, strict: the same parser as the project's own commands). */
const OPTIONS = {
  port: { type: 'string', help: 'port to listen on (0: any free port)' },
  host: { type: 'string', help: 'address to listen on' },
  'webhook-url': { type: 'string', help: 'where every event is delivered, like `stripe listen --forward-to`' },
  'webhook-secret': { type: 'string', help: 'the whsec_… secret deliveries are signed with' },
  'rate-limit': { type: 'string', help: 'requests per second over /v1 before 429 (default: none)' },
  'state-file': { type: 'string', help: 'keep objects, events and keys across restarts' },
  'public-url': { type: 'string', help: 'base of hosted invoice URLs' },
  delivery: { type: 'string', help: 'webhook delivery: ideal (default) or realistic (late, some twice, any order)' },
  'delivery-seed': { type: 'string', help: 'seed of the realistic delivery (default: drawn and printed)' },
  help: { type: 'boolean', help: 'this help' },
} as const;
type Flag = Exclude<keyof typeof OPTIONS, 'help'>;

export function parseArgs(argv: string[]): Partial<Record<Flag, string>> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseCommandLine({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // Node's own TypeError (read structurally: it may come from another realm under a test runner).
    const { code, message = String(error) } = error as { code?: string; message?: string };
    const option = /'(-{1,2}[^' <]+)/.exec(message)?.[1];
    throw new Error(code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? `Unknown argument: ${option}` : message);
  }
  if (values.help) {
    const lines = Object.entries(OPTIONS).map(([name, o]) => `  --${name.padEnd(15)} ${o.help}`);
    process.stdout.write(`Usage: stripe-emulator [options]\n\n${lines.join('\n')}\n`);
    process.exit(0);
  }
  const { help: _help, ...given } = values;
  return given as Partial<Record<Flag, string>>;
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

function delivery(profile: string | undefined, seed: string | undefined): EmulatorOptions['delivery'] {
  if (profile === undefined || profile === '' || profile === 'ideal') {
    return undefined;
  }
  if (profile !== 'realistic') {
    throw new Error(`--delivery must be ideal or realistic, got "${profile}"`);
  }
  return { profile, seed: toInt('--delivery-seed', seed) ?? randomInt(1, 2 ** 31) };
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
    delivery: delivery(
      a.delivery ?? env.STRIPE_EMULATOR_DELIVERY,
      a['delivery-seed'] ?? env.STRIPE_EMULATOR_DELIVERY_SEED,
    ),
  };
}

async function main(): Promise<void> {
  const options = optionsFrom(process.argv.slice(2), process.env);
  const emulator = await startEmulator(options);
  process.stdout.write(
    `Stripe emulator listening on ${emulator.url} (API ${emulator.apiBase}, control ${emulator.controlUrl})\n`,
  );
  if (options.delivery) {
    process.stdout.write(`Webhooks delivered realistically, seed ${options.delivery.seed}\n`);
  }
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

import 'reflect-metadata';
import { ConfigError, loadConfig } from '../config/config';
import type { AppConfig } from '../config/config';
import { BadInputError, NotFoundError } from '../services/shared/errors';
import type { BillingRunProgress } from '../services/billing-runs/get-billing-run.service';
import { COMMON_OPTIONS, UsageError, optionHelp, parseCommandLine } from './args';
import type { Flags } from './args';
import type { CommandResult, Env } from './billing-commands';
import { COMMAND_OPTIONS } from './billing-options';

// Loaded on first use, so `--help` and usage errors answer without loading the ORM and the Stripe SDK.
/* eslint-disable-next-line @typescript-eslint/consistent-type-imports -- typed lazy require */
const commands = (): typeof import('./billing-commands') => require('./billing-commands');
/* eslint-disable-next-line @typescript-eslint/consistent-type-imports -- typed lazy require */
const misc = (): typeof import('./billing-misc-commands') => require('./billing-misc-commands');
/* eslint-disable-next-line @typescript-eslint/consistent-type-imports -- typed lazy require */
const partitions = (): typeof import('./partition-commands') => require('./partition-commands');
/* eslint-disable-next-line @typescript-eslint/consistent-type-imports -- typed lazy require */
const token = (): typeof import('./token-command') => require('./token-command');
/* eslint-disable-next-line @typescript-eslint/consistent-type-imports -- typed lazy require */
const endpoints = (): typeof import('./webhook-endpoint-commands') => require('./webhook-endpoint-commands');

const EXIT = `Exit codes: 0 ok · 1 the work had failures (see the output) · 2 usage error · 3 could not run
(invalid configuration, database or Stripe unreachable, pending migrations).`;

const HELP: Record<string, string> = {
  '': `Usage: npm run billing -- <command> [options]

Commands:
  run --period YYYY-MM                 bill every customer with usage in an ended period (resumable, idempotent)
  reconcile --period YYYY-MM           compare invoices with Stripe and apply what was missed [--dry-run]
  config check                         validate the configuration and print it, secrets masked
  token --sub <id> --role <role>       mint a development token
  seed-demo [--period YYYY-MM]         default catalogue and demo usage (default: last month)
  webhooks replay --id|--failed|--since  queue stored Stripe events to be applied again
  webhooks recover --since <time>      fetch events from Stripe that never reached us and store them
  partitions list|ensure|drop          monthly partitions of the usage events: create ahead, retention
  webhook-endpoints list|create|update|disable|enable|rotate-secret|deliveries|replay|reencrypt
                                       the platform's outgoing webhook endpoints (as the admin API)

Run \`npm run billing -- <command> --help\` for a command's options. Every command reads the server's
configuration (DATABASE_URL or the embedded database under DATA_DIR, STRIPE_*). With the embedded PGlite database
stop the server first: it is one process's database. Without a Stripe key the local Stripe of \`npm start\` is
used: started by the command itself (same state file) when the server is not running.

${EXIT}
`,
  run: `Usage: npm run billing -- run --period YYYY-MM [options]

Bills every customer with usage in the period and no invoice yet, through the same createInvoice as the API.
The run is claimed once per period and shared with any server instance working on it; running it again finishes
what is left (after a crash), retries failed customers, and never invoices anyone twice.

{options}

Exit 1 when any customer failed; the failures and reasons are printed (and in billingRun(period)).
`,
  reconcile: `Usage: npm run billing -- reconcile --period YYYY-MM [--dry-run] [options]

Compares each invoice of the period with its Stripe invoice and applies what was missed, forward-only: a payment,
a void, an uncollectible mark, the amount paid; resumes a DRAFT stuck half-way; e-mails an open invoice whose send
failed (AUTO_SEND_INVOICES, unless Stripe's events show it was sent); releases a PROCESSING invoice whose payment
never reached Stripe (no outcome for the timeout, and Stripe shows it open, nothing paid, no payment in progress) to
PAYMENT_FAILED, so it can be paid again. Reports Stripe invoices carrying our metadata with no local row (from
Stripe events: the last 30 days). Every change is listed.

{options}

Exit 1 when an invoice could not be checked or repaired (run again); warnings and orphans need a person.
`,
  'config check': `Usage: npm run billing -- config check [--json]

Validates the configuration (including BILLING_SCHEDULER_ENABLED, BILLING_GRACE_MINUTES,
BILLING_SCHEDULER_INTERVAL_SECONDS, BILLING_CONCURRENCY) and prints it with secrets masked. Exit 1 when invalid.

{options}
`,
  token: `Usage: npm run billing -- token --sub <user id> [--role user|admin|service] [--expires 12h] [--json]

Mints an HS256 token with JWT_SECRET or the development secret under DATA_DIR. Not available with JWT_JWKS_URL.

{options}
`,
  'seed-demo': `Usage: npm run billing -- seed-demo [--period YYYY-MM] [--json]

Inserts the default metric catalogue and prices (if missing) and demo usage for demo-alice, demo-bob and
demo-carol in the period (default: last month). Idempotent: running it again stores nothing new.

{options}
`,
  'webhooks replay': `Usage: npm run billing -- webhooks replay (--id <evt_…> | --failed | --since <ISO time>) [--json]

Queues stored Stripe events to be applied again (filters combine with AND); a running server's webhook worker
applies them. Handlers are idempotent: replaying an applied event changes nothing.

{options}
`,
  'webhooks recover': `Usage: npm run billing -- webhooks recover --since <ISO time> [--json]

Lists Stripe's events since the time (Stripe keeps 30 days) and stores those we never received, as the webhook
route would; a running server's webhook worker applies them. Events already stored are left alone.

{options}
`,
  'partitions list': `Usage: npm run billing -- partitions list [--json]

Lists the monthly partitions of usage_records (usage_records_pYYYY_MM), oldest first.

{options}
`,
  'partitions ensure': `Usage: npm run billing -- partitions ensure [--months-ahead N] [--json]

Creates the usage_records partitions of last month, this month and the next N (USAGE_PARTITIONS_AHEAD, default 3)
that do not exist yet. The server does the same at start; a month missing when its usage arrives is created then.

{options}
`,
  'partitions drop': `Usage: npm run billing -- partitions drop [--retention-months N] [--keep] [--json]

Removes the partitions of months that ended more than N months (USAGE_RETENTION_MONTHS) before the current one:
dropped, or with --keep detached and kept as plain tables (usage_records_pYYYY_MM_detached_<unix time>). A month
holding usage on no invoice is refused and left in place (exit 1). Day rollups, billing claims and idempotency keys stay: invoices and previews read the rollups,
and a retried event of a dropped month is still a duplicate. Distinct counts and usage of days a price changed
within are read from the events: a month whose events are gone is previewed without them.

{options}
`,
};
const ENDPOINT_HELP: Record<string, string> = {
  list: 'Lists the outgoing webhook endpoints.',
  create: 'Registers an endpoint (--url and --events required) and prints its signing secret once (Standard Webhooks).',
  update: 'Changes what is given of an endpoint: URL, event types, description, rate.',
  disable: 'Stops sending to an endpoint; its events still queue and are sent in order once it is enabled.',
  enable: 'Sends to an endpoint again, its failed deliveries first.',
  'rotate-secret': 'Makes a new signing secret (printed once); the current ones keep signing for --overlap-hours.',
  deliveries: "Lists an endpoint's deliveries, newest first, with their attempts and last error.",
  reencrypt:
    'Seals every signing secret with the first key of SECRETS_ENCRYPTION_KEYS: those stored in plain text by earlier versions, and those sealed with an older key (run it after putting a new key first, before removing the old one). Idempotent. Exit 1 when a secret does not open with any configured key.',
  replay:
    'Sends again one delivery (--delivery), or the deliveries of the events an endpoint (--id) had from --since to --until (same webhook-id, in order per invoice); a running server sends them at once.',
};
for (const [sub, text] of Object.entries(ENDPOINT_HELP)) {
  HELP[`webhook-endpoints ${sub}`] = `Usage: npm run billing -- webhook-endpoints ${sub} [options]

${text}

{options}
`;
}

const BAR = 24;

function progressLine(run: BillingRunProgress): string {
  const finished = run.done + run.failed + run.skipped;
  const filled = run.total === 0 ? BAR : Math.round((finished / run.total) * BAR);
  return (
    `\r[${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}] ${finished}/${run.total}  ` +
    `done ${run.done}  failed ${run.failed}  skipped ${run.skipped}   `
  );
}

async function withEnv(config: AppConfig, flags: Flags, fn: (env: Env) => Promise<CommandResult>) {
  const env = await commands().openEnv(config, flags.verbose === true);
  try {
    return await fn(env);
  } finally {
    await env.close();
  }
}

async function dispatch(key: string, flags: Flags): Promise<CommandResult> {
  const { checkFlags, reconcileCommand, runCommand } = commands();
  const { configCheckCommand, seedDemoCommand, webhooksRecoverCommand, webhooksReplayCommand } = misc();
  checkFlags(key, flags);
  const config = loadConfig();
  switch (key) {
    case 'run': {
      const tty = process.stderr.isTTY && flags.json !== true;
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const result = await withEnv(config, flags, (env) =>
          runCommand(env, flags, {
            signal: controller.signal,
            onProgress: tty ? (run) => process.stderr.write(progressLine(run)) : undefined,
          }),
        );
        if (tty) {
          process.stderr.write('\n');
        }
        return result;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }
    case 'reconcile':
      return withEnv(config, flags, (env) => reconcileCommand(env, flags));
    case 'config check':
      return configCheckCommand(config);
    case 'token':
      return token().tokenCommand(config, flags);
    case 'seed-demo':
      return withEnv(config, flags, (env) => seedDemoCommand(env, flags));
    case 'webhooks replay':
      return withEnv(config, flags, (env) => webhooksReplayCommand(env, flags));
    case 'partitions list':
      return withEnv(config, flags, (env) => partitions().partitionsListCommand(env));
    case 'partitions ensure':
      return withEnv(config, flags, (env) => partitions().partitionsEnsureCommand(env, flags));
    case 'partitions drop':
      return withEnv(config, flags, (env) => partitions().partitionsDropCommand(env, flags));
    case 'webhook-endpoints list':
    case 'webhook-endpoints create':
    case 'webhook-endpoints update':
    case 'webhook-endpoints disable':
    case 'webhook-endpoints enable':
    case 'webhook-endpoints rotate-secret':
    case 'webhook-endpoints deliveries':
    case 'webhook-endpoints replay':
    case 'webhook-endpoints reencrypt':
      return withEnv(config, flags, (env) => endpoints().webhookEndpointCommand(key, env, flags));
    default:
      return withEnv(config, flags, (env) => webhooksRecoverCommand(env, flags));
  }
}

/** A command's help: its text, with the option list written from its option table. */
function helpOf(key: string): string {
  return HELP[key].replace('{options}', optionHelp({ ...COMMAND_OPTIONS[key], ...COMMON_OPTIONS }));
}

async function main(argv: string[]): Promise<number> {
  // The command is the leading words (`run`, `config check`, `webhooks replay`); options follow.
  const firstOption = argv.findIndex((arg) => arg.startsWith('-'));
  const words = firstOption === -1 ? argv : argv.slice(0, firstOption);
  const [command = '', sub] = words;
  const key = ['config', 'webhooks', 'partitions', 'webhook-endpoints'].includes(command)
    ? `${command} ${sub ?? ''}`.trim()
    : command;
  const rest = argv.slice(key ? key.split(' ').length : 0);
  const asksHelp = rest.includes('--help') || rest.includes('-h');
  if (!(key in HELP) || (key === '' && !asksHelp)) {
    process.stderr.write(`${key ? `Unknown command: ${key}\n\n` : ''}${HELP['']}`);
    return 2;
  }
  if (asksHelp) {
    process.stdout.write(key ? helpOf(key) : HELP['']);
    return 0;
  }
  let flags: Flags = {};
  let json = rest.includes('--json');
  const fail = (code: number, error: string): number => {
    if (json) {
      process.stdout.write(`${JSON.stringify({ ok: false, error })}\n`);
    }
    process.stderr.write(`${error}\n${code === 2 ? `\n${helpOf(key)}` : ''}`);
    return code;
  };
  try {
    flags = parseCommandLine(rest, { ...COMMAND_OPTIONS[key], ...COMMON_OPTIONS }).flags;
    json = flags.json === true;
    const { code, result, text } = await dispatch(key, flags);
    process.stdout.write(json ? `${JSON.stringify(result)}\n` : `${text}\n`);
    return code;
  } catch (error) {
    if (error instanceof UsageError || error instanceof BadInputError || error instanceof NotFoundError) {
      return fail(2, error.message);
    }
    if (error instanceof ConfigError) {
      return fail(key === 'config check' ? 1 : 3, error.message);
    }
    return fail(3, error instanceof Error ? error.message : String(error));
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(3);
  },
);

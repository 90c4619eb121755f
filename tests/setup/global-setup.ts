import 'reflect-metadata';
import { buildDashboardOnce, buildOnce } from '../helpers/build';
import { PGLITE_DUMP_ENV, TEMPLATE_DATABASE_ENV, prepareTemplate, removeTemplate } from '../helpers/database';
import { DELIVERY_SEED_ENV, deliverySeed } from '../helpers/delivery';
import { STATS_ENV, VALIDATORS_ENV, newStatsFile, precompileValidators, takeStats } from '../helpers/fidelity';

/**
 * Once per `jest` run, in the parent process before any worker starts (workers inherit `process.env`): the migrated
 * template every integration and e2e test file copies its database from, and, for the e2e project, the one build
 * that the tests spawning the server or the CLI share (and the dashboard the browser tests load). A project's global setup runs only when one of its tests is
 * selected, so `npm test -- tests/pricing.test.ts` neither builds nor migrates. The variables mark what is done, so
 * the second project's setup does not repeat it.
 */
export async function setUp(options: { build: boolean }): Promise<void> {
  if (options.build && !process.env.BILLING_TEST_BUILT) {
    buildOnce();
    buildDashboardOnce();
    process.env.BILLING_TEST_BUILT = '1';
  }
  if (!process.env[TEMPLATE_DATABASE_ENV] && !process.env[PGLITE_DUMP_ENV]) {
    Object.assign(process.env, await prepareTemplate());
    forgetOrmGlobals();
  }
  // The fidelity guard (tests/setup/fidelity.ts), also for the servers the e2e tests spawn: its schemas compiled
  // once for every worker, and a file where each test file adds what it checked.
  process.env.STRIPE_FIDELITY_GUARD ??= '1';
  process.env[VALIDATORS_ENV] ??= precompileValidators();
  process.env[STATS_ENV] ??= newStatsFile();
  // The e2e project delivers realistically by default (tests/helpers/delivery.ts): its seed is printed too.
  const realistic = (process.env.STRIPE_DELIVERY_PROFILE ?? (options.build ? 'realistic' : 'ideal')) === 'realistic';
  if (!process.env[DELIVERY_SEED_ENV] && realistic) {
    process.stdout.write(
      `\nWebhooks of the local Stripe: realistic delivery, seed ${deliverySeed()} ` +
        `(${DELIVERY_SEED_ENV}=${deliverySeed()} npm test … repeats its delays, duplicates and order)\n`,
    );
  }
}

/**
 * MikroORM keeps entity metadata on `globalThis` (`mikro-orm-*`). With a single test file jest runs it in this very
 * process, and the test's own copy of MikroORM would find this realm's metadata there and fail ("Map.prototype.set
 * called on incompatible receiver"); it must build its own.
 */
function forgetOrmGlobals(): void {
  const global = globalThis as Record<string, unknown>;
  for (const key of Object.keys(global).filter((name) => name.startsWith('mikro-orm-'))) {
    delete global[key];
  }
}

/** Removes the template once (the first project's teardown; the variables are cleared). */
export async function tearDown(): Promise<void> {
  const env = { ...process.env };
  delete process.env[TEMPLATE_DATABASE_ENV];
  delete process.env[PGLITE_DUMP_ENV];
  await removeTemplate(env);
  const stats = takeStats(env[STATS_ENV]);
  delete process.env[STATS_ENV];
  if (stats) {
    const w = stats.webhooks;
    process.stdout.write(
      `\nFidelity guard: ${stats.responses} responses and ${stats.events} events of the local Stripe checked ` +
        `against the stripe SDK's schemas in ${stats.file}; ${stats.violations} violation(s).\n` +
        `Webhooks: ${w.deliveries} deliveries of ${w.events} events, ${w.duplicates} of them duplicates, ` +
        `${w.outOfOrder} after a later event (seed ${env[DELIVERY_SEED_ENV] ?? 'none'}).\n`,
    );
  }
}

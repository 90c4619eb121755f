import type { AppConfig } from '../config/config';
import { describeConfig } from '../config/describe-config';
import { Role } from '../entities/enums';
import { periodOf, previousPeriod } from '../services/billing-runs/billing-period';
import { recordUsage } from '../services/usage/record-usage.service';
import { seedDefaultCatalogue } from '../services/usage/seed-catalogue.service';
import { replayWebhookEvents } from '../services/stripe-events/webhook-events.service';
import { storeStripeEvent } from '../webhooks';
import type { CommandResult, Env, Flags } from './billing-commands';
import { UsageError, on, periodFlag, str, timeFlag } from './billing-commands';

/** The smaller operator commands of `npm run billing`: configuration, tokens, demo data, webhook repair. */

export function configCheckCommand(config: AppConfig): CommandResult {
  const rows = describeConfig(config);
  const width = Math.max(...rows.map(([name]) => name.length));
  return {
    code: 0,
    result: { ok: true, valid: true, settings: Object.fromEntries(rows) },
    text: `Configuration is valid.\n\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}`,
  };
}

export async function seedDemoCommand(env: Env, flags: Flags): Promise<CommandResult> {
  const period = periodFlag(flags, false) ?? previousPeriod(periodOf(new Date(env.clock.now()))).key;
  const em = env.db.orm.em.fork();
  const metrics = await seedDefaultCatalogue(em.fork(), { currency: env.config.billing.defaultCurrency });
  const users = ['demo-alice', 'demo-bob', 'demo-carol'];
  const usage: Array<[string, string]> = [
    ['llm_input_tokens', '1250000'],
    ['llm_output_tokens', '310000'],
    ['agent_runtime_minutes', '420'],
    ['tool_calls', '900'],
  ];
  const events = users.flatMap((userId, u) =>
    usage.flatMap(([metric, quantity], m) => {
      const amount = BigInt(quantity) * BigInt(u + 1);
      const occurredAt = `${period}-${String(10 + m).padStart(2, '0')}T12:00:00Z`;
      const idempotencyKey = `demo:${period}:${userId}:${metric}`;
      // tool_calls is a COUNT metric: it counts events and refuses a quantity other than 1, so one event per call.
      if (metric === 'tool_calls') {
        return Array.from({ length: Number(amount) }, (_, n) => ({
          userId,
          metric,
          quantity: '1',
          occurredAt,
          idempotencyKey: `${idempotencyKey}:${n + 1}`,
        }));
      }
      return [{ userId, metric, quantity: String(amount), occurredAt, idempotencyKey }];
    }),
  );
  const recorded = await recordUsage(em, { userId: 'cli:seed-demo', role: Role.SERVICE }, events);
  return {
    code: recorded.rejected.length === 0 ? 0 : 1,
    result: { ok: recorded.rejected.length === 0, period, metricsAdded: metrics, users, ...recorded },
    text:
      `Seeded ${metrics.length} metrics; demo usage for ${users.join(', ')} in ${period}: ` +
      `${recorded.accepted} stored, ${recorded.duplicates} already there.\n` +
      `Bill it with: npm run billing -- run --period ${period}`,
  };
}

export async function webhooksReplayCommand(env: Env, flags: Flags): Promise<CommandResult> {
  const filter = { id: str(flags, 'id'), failed: on(flags, 'failed'), since: timeFlag(flags, 'since') };
  if (!filter.id && !filter.failed && !filter.since) {
    throw new UsageError('Give --id <evt_…>, --failed or --since <ISO time>');
  }
  const { count, ids } = await replayWebhookEvents(env.db.orm.em.fork(), filter);
  return {
    code: 0,
    result: { ok: true, count, ids },
    text: `Queued ${count} stored event(s) again; a running server's webhook worker applies them.`,
  };
}

export async function webhooksRecoverCommand(env: Env, flags: Flags): Promise<CommandResult> {
  const since = timeFlag(flags, 'since');
  if (!since) {
    throw new UsageError('--since <ISO time> is required (Stripe keeps events for 30 days)');
  }
  const events = await env.gateway.listEventsSince(since);
  let stored = 0;
  for (const event of events) {
    const { duplicate } = await storeStripeEvent(env.db.orm.em.fork(), event);
    stored += duplicate ? 0 : 1;
  }
  return {
    code: 0,
    result: { ok: true, since: since.toISOString(), listed: events.length, stored, duplicates: events.length - stored },
    text:
      `Listed ${events.length} Stripe events since ${since.toISOString()}: ${stored} were missing and are now ` +
      `stored (a running server's webhook worker applies them), ${events.length - stored} were already stored.`,
  };
}

import type { EntityManager } from '@mikro-orm/postgresql';
import { BillableMetric, Price } from '../../entities';
import type { PriceTier } from '../../entities';
import { MetricAggregation, PriceModel } from '../../entities/enums';

interface DefaultMetric {
  code: string;
  name: string;
  unit: string;
  aggregation: MetricAggregation;
  uniqueField?: string;
  price: { model: PriceModel; unitAmount?: string; packageSize?: string; tiers?: PriceTier[]; freeAllowance?: string };
}

/** AgentHub's default catalogue and list prices (USD) for the embedded demo and for new installations. */
export const DEFAULT_CATALOGUE: DefaultMetric[] = [
  {
    code: 'agent_runtime_minutes',
    name: 'Agent runtime',
    unit: 'minute',
    aggregation: MetricAggregation.SUM,
    price: { model: PriceModel.PER_UNIT, unitAmount: '0.02', freeAllowance: '60' },
  },
  {
    code: 'llm_input_tokens',
    name: 'LLM input tokens',
    unit: 'token',
    aggregation: MetricAggregation.SUM,
    price: { model: PriceModel.PER_UNIT, unitAmount: '0.000002' },
  },
  {
    code: 'llm_output_tokens',
    name: 'LLM output tokens',
    unit: 'token',
    aggregation: MetricAggregation.SUM,
    price: {
      model: PriceModel.GRADUATED,
      tiers: [
        { upTo: '1000000', unitAmount: '0.000008' },
        { upTo: null, unitAmount: '0.000006' },
      ],
    },
  },
  {
    code: 'tool_calls',
    name: 'Tool calls',
    unit: 'call',
    aggregation: MetricAggregation.COUNT,
    price: { model: PriceModel.PACKAGE, unitAmount: '0.50', packageSize: '1000' },
  },
  {
    code: 'storage_gb_hours',
    name: 'Storage',
    unit: 'GB-hour',
    aggregation: MetricAggregation.SUM,
    price: { model: PriceModel.PER_UNIT, unitAmount: '0.0005' },
  },
  {
    code: 'active_agents',
    name: 'Active agents',
    unit: 'agent',
    aggregation: MetricAggregation.UNIQUE_COUNT,
    uniqueField: 'agentId',
    price: {
      model: PriceModel.VOLUME,
      tiers: [
        { upTo: '5', unitAmount: '0' },
        { upTo: '50', unitAmount: '2.00' },
        { upTo: null, unitAmount: '1.50' },
      ],
    },
  },
];

/** Inserts the default metrics and prices that are missing (idempotent); returns the codes added. */
export async function seedDefaultCatalogue(
  em: EntityManager,
  options: { currency?: string; effectiveFrom?: Date } = {},
): Promise<string[]> {
  const currency = options.currency ?? 'usd';
  const effectiveFrom = options.effectiveFrom ?? new Date(Date.UTC(2024, 0, 1));
  return em.transactional(async (tem) => {
    const existing = new Set((await tem.find(BillableMetric, {})).map((m) => m.code));
    const added: string[] = [];
    for (const entry of DEFAULT_CATALOGUE.filter((m) => !existing.has(m.code))) {
      const metric = tem.create(BillableMetric, {
        code: entry.code,
        name: entry.name,
        unit: entry.unit,
        aggregation: entry.aggregation,
        uniqueField: entry.uniqueField ?? null,
        active: true,
      });
      tem.create(Price, {
        metric,
        currency,
        model: entry.price.model,
        unitAmount: entry.price.unitAmount ?? null,
        packageSize: entry.price.packageSize ?? null,
        tiers: entry.price.tiers ?? null,
        freeAllowance: entry.price.freeAllowance ?? '0',
        effectiveFrom,
        createdBy: 'seed',
      });
      added.push(entry.code);
    }
    await tem.flush();
    return added;
  });
}

import type { EntityManager } from '@mikro-orm/postgresql';
import { BillableMetric } from '../../entities';
import { MetricAggregation, Role } from '../../entities/enums';
import type { Caller } from '../customers/caller';
import { requireRole } from '../customers/caller';
import { BadInputError, quote } from '../shared/errors';

export interface MetricInput {
  code: string;
  name: string;
  unit: string;
  aggregation: MetricAggregation;
  uniqueField?: string | null;
  description?: string | null;
}

const CODE = /^[a-z][a-z0-9_]{1,62}$/;
/** Fields `unique_count` can count distinct values of: the agent id, or a key of the event metadata. */
const UNIQUE_FIELD = /^(agentId|metadata\.[A-Za-z0-9_]{1,64})$/;

export function listBillableMetrics(em: EntityManager): Promise<BillableMetric[]> {
  return em.find(BillableMetric, {}, { orderBy: { code: 'asc' } });
}

/** Adds a metric to the catalogue (admin): a new metric needs no code, only this row and a price. */
export async function createBillableMetric(
  em: EntityManager,
  caller: Caller,
  input: MetricInput,
): Promise<BillableMetric> {
  requireRole(caller, Role.ADMIN);
  if (!CODE.test(input.code)) {
    throw new BadInputError('code must be snake_case: a letter, then letters, digits or _ (2-63 characters)', 'code');
  }
  if (input.aggregation === MetricAggregation.UNIQUE_COUNT && !UNIQUE_FIELD.test(input.uniqueField ?? '')) {
    throw new BadInputError('unique_count needs uniqueField "agentId" or "metadata.<key>"', 'uniqueField');
  }
  if (input.aggregation !== MetricAggregation.UNIQUE_COUNT && input.uniqueField) {
    throw new BadInputError('uniqueField applies only to unique_count', 'uniqueField');
  }
  // Shown on every invoice line and in Stripe: required, and of a size an invoice can carry.
  const name = input.name.trim();
  const unit = input.unit.trim();
  const description = input.description?.trim() || null;
  if (name.length < 1 || name.length > 200) {
    throw new BadInputError('name must be 1 to 200 characters (not blank)', 'name');
  }
  if (unit.length < 1 || unit.length > 50) {
    throw new BadInputError('unit must be 1 to 50 characters (not blank)', 'unit');
  }
  if (description && description.length > 2000) {
    throw new BadInputError('description must be at most 2,000 characters', 'description');
  }
  if (await em.count(BillableMetric, { code: input.code })) {
    throw new BadInputError(`Metric ${quote(input.code)} already exists`, 'code');
  }
  const metric = em.create(BillableMetric, {
    code: input.code,
    name,
    unit,
    aggregation: input.aggregation,
    uniqueField: input.uniqueField ?? null,
    description,
    active: true,
  });
  await em.flush();
  return metric;
}

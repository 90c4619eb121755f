import { Role } from '../../src/entities/enums';
import { CreateBillableMetricDocument, RecordUsageDocument, SetPriceDocument } from '../generated/graphql';
import type { CreateBillableMetricInput, SetPriceInput, UsageEventInput } from '../generated/graphql';
import type { TestServer } from './server';

/** Admin and service tokens plus helpers that go through the public API, as an operator or the platform would. */
export async function operator(t: TestServer) {
  const admin = await t.token('admin-1', Role.ADMIN);
  const service = await t.token('platform', Role.SERVICE);
  const ok = <T>(res: { body: { data?: T | null; errors?: unknown[] } }): T => {
    if (res.body.errors || !res.body.data) {
      throw new Error(`GraphQL errors: ${JSON.stringify(res.body.errors)}`);
    }
    return res.body.data;
  };
  let seq = 0;
  return {
    admin,
    service,
    createMetric: async (input: CreateBillableMetricInput) =>
      ok(await t.gql(CreateBillableMetricDocument, { input }, { token: admin })).createBillableMetric,
    setPrice: async (input: SetPriceInput) => ok(await t.gql(SetPriceDocument, { input }, { token: admin })).setPrice,
    record: async (events: Array<Omit<UsageEventInput, 'idempotencyKey'> & { idempotencyKey?: string }>) =>
      ok(
        await t.gql(
          RecordUsageDocument,
          { events: events.map((e) => ({ idempotencyKey: `fixture-${(seq += 1)}`, ...e })) },
          { token: service },
        ),
      ).recordUsage,
  };
}

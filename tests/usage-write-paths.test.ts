import fc from 'fast-check';
import { Role } from '../src/entities/enums';
import type { RecordUsageResult, UsageEventData } from '../src/services/usage/record-usage.service';
import { recordUsage } from '../src/services/usage/record-usage.service';
import type { UsageWritePath } from '../src/services/usage/usage-repository';
import { seedDefaultCatalogue } from '../src/services/usage/seed-catalogue.service';
import type { TestDatabase } from './helpers/database';
import { createTestDatabase, testServerUrl } from './helpers/database';

/**
 * The two ways a batch reaches `usage_records` (COPY into a staging table on PostgreSQL, bound arrays on the
 * embedded database) against a model of the conflict rule: the first copy of a customer + idempotency key wins,
 * within a batch and across batches, and every event is answered once (stored, duplicate or rejected). On
 * PostgreSQL both paths run the same batches and must store the same rows and give the same answers.
 */
const PATHS: UsageWritePath[] = testServerUrl() ? ['copy', 'arrays'] : ['arrays'];
const service = { userId: 'platform', role: Role.SERVICE };
const NOW = new Date('2024-03-01T00:00:00Z');

interface StoredRow {
  user: string;
  metric: string;
  quantity: string;
  occurredAt: string;
  key: string;
  agentId: string | null;
  metadata: unknown;
}

// Text that COPY's text format must escape (tab, newline, carriage return, backslash, `\N`) and that SQL would.
const awkward = fc.constantFrom('plain', 'tab\there', 'new\nline', 'cr\rhere', 'back\\slash', '\\N', "quote'; --");
const eventArb = fc.record({
  user: fc.constantFrom('u0', 'u1', 'u\t2'),
  key: fc.oneof(fc.constantFrom('k0', 'k1', 'k2', 'k3'), awkward),
  metric: fc.constantFrom('llm_input_tokens', 'tool_calls', 'no_such_metric'),
  quantity: fc.constantFrom('1', '2.5', '1000000', '-1', '0.000000000001'),
  occurredAt: fc.constantFrom('2024-01-15T10:00:00Z', '2024-02-29T23:59:59.999+01:00', '2024-02-30T00:00:00Z'),
  agentId: fc.option(awkward, { nil: undefined }),
  metadata: fc.option(fc.record({ note: awkward, n: fc.integer({ min: -5, max: 5 }) }), { nil: undefined }),
});
const batchesArb = fc.array(fc.array(eventArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 });

describe('usage write paths', () => {
  let test: TestDatabase;
  let run = 0;

  beforeAll(async () => {
    test = await createTestDatabase();
    await seedDefaultCatalogue(test.db.orm.em.fork());
  });
  afterAll(() => test.drop());

  const storedRows = async (prefix: string): Promise<StoredRow[]> => {
    const rows = await test.db.orm.em
      .fork()
      .execute<Array<Omit<StoredRow, 'user'> & { user: string; occurredAt: Date | string }>>(
        `select substr(c.external_user_id, ${prefix.length + 1}) as "user", m.code as metric,
              ur.quantity::text as quantity, ur.occurred_at as "occurredAt", ur.idempotency_key as key,
              ur.agent_id as "agentId", ur.metadata
       from usage_records ur
       join customers c on c.id = ur.customer_id
       join billable_metrics m on m.id = ur.metric_id
       where c.external_user_id like ?`,
        [`${prefix}%`],
      );
    return rows.map((r) => ({ ...r, occurredAt: new Date(r.occurredAt).toISOString() })).sort(byUserAndKey);
  };

  it('stores the first copy of each key and answers every event, the same way on every path', async () => {
    await fc.assert(
      fc.asyncProperty(batchesArb, async (batches) => {
        run += 1;
        const outcomes = new Map<UsageWritePath, { answers: RecordUsageResult[]; rows: StoredRow[] }>();
        for (const path of PATHS) {
          const prefix = `r${run}-${path}-`;
          const answers: RecordUsageResult[] = [];
          for (const batch of batches) {
            const events: UsageEventData[] = batch.map((e) => ({
              userId: prefix + e.user,
              metric: e.metric,
              quantity: e.quantity,
              occurredAt: e.occurredAt,
              idempotencyKey: e.key,
              agentId: e.agentId,
              metadata: e.metadata,
            }));
            answers.push(await recordUsage(test.db.orm.em.fork(), service, events, NOW, path));
          }
          outcomes.set(path, { answers, rows: await storedRows(prefix) });

          // The model: events not rejected are stored unless their customer + key was seen before (in this batch
          // or an earlier one); the first copy is what is stored.
          const seen = new Map<string, StoredRow>();
          batches.forEach((batch, b) => {
            const rejected = new Set(answers[b].rejected.map((r) => r.index));
            let accepted = 0;
            batch.forEach((e, i) => {
              const id = JSON.stringify([e.user, e.key]);
              if (rejected.has(i) || seen.has(id)) {
                return;
              }
              accepted += 1;
              seen.set(id, {
                user: e.user,
                metric: e.metric,
                quantity: e.quantity,
                occurredAt: new Date(e.occurredAt).toISOString(),
                key: e.key,
                agentId: e.agentId ?? null,
                metadata: e.metadata ?? null,
              });
            });
            expect(answers[b].accepted).toBe(accepted);
            expect(answers[b].duplicates).toBe(batch.length - rejected.size - accepted);
            expect(answers[b].late).toBe(0);
          });
          const stored = await storedRows(prefix);
          const expected = [...seen.values()].sort(byUserAndKey);
          expect(stored.map((r) => ({ ...r, quantity: Number(r.quantity) }))).toEqual(
            expected.map((r) => ({ ...r, quantity: Number(r.quantity) })),
          );
        }
        if (PATHS.length === 2) {
          const [copy, arrays] = PATHS.map((p) => outcomes.get(p)!);
          expect(copy.answers).toEqual(arrays.answers);
          expect(copy.rows).toEqual(arrays.rows);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('answers a 10,000-event batch with resent and repeated keys the same on every path', async () => {
    const batch = (prefix: string): UsageEventData[] =>
      Array.from({ length: 10_000 }, (_, i) => {
        // Every 10th event repeats the one before it (same customer and key).
        const k = i % 10 === 9 ? i - 1 : i;
        return {
          userId: `${prefix}user-${k % 50}`,
          metric: 'llm_input_tokens',
          quantity: String(1 + (i % 7)),
          occurredAt: new Date(Date.UTC(2024, 0, 1 + (i % 28), i % 24)).toISOString(),
          idempotencyKey: `k-${k}`,
          agentId: i % 3 ? `agent-${i % 5}` : undefined,
        };
      });
    for (const path of PATHS) {
      const prefix = `big-${path}-`;
      const first = await recordUsage(test.db.orm.em.fork(), service, batch(prefix), NOW, path);
      const again = await recordUsage(test.db.orm.em.fork(), service, batch(prefix), NOW, path);
      expect(first).toEqual({ accepted: 9_000, duplicates: 1_000, rejected: [], late: 0 });
      expect(again).toEqual({ accepted: 0, duplicates: 10_000, rejected: [], late: 0 });
      const [{ n, total }] = await test.db.orm.em.fork().execute<Array<{ n: string; total: string }>>(
        `select count(*)::text as n, sum(quantity)::text as total from usage_records ur
           join customers c on c.id = ur.customer_id where c.external_user_id like ?`,
        [`${prefix}%`],
      );
      expect(Number(n)).toBe(9_000);
      const expectedTotal = batch(prefix)
        .filter((_, i) => i % 10 !== 9)
        .reduce((sum, e) => sum + Number(e.quantity), 0);
      expect(Number(total)).toBe(expectedTotal);
    }
  });
});

function byUserAndKey(a: StoredRow, b: StoredRow): number {
  const cmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return a.user === b.user ? cmp(a.key, b.key) : cmp(a.user, b.user);
}

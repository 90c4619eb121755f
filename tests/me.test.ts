import { Customer } from '../src/entities';
import { MeDocument } from './generated/graphql';
import type { TestServer } from './helpers/server';
import { startTestServer } from './helpers/server';

describe('me', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.close());

  it("creates the caller's customer on first sight and returns the same one afterwards", async () => {
    const token = await t.token('user-42');
    const first = await t.gql(MeDocument, {}, { token });
    const second = await t.gql(MeDocument, {}, { token });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data?.me).toMatchObject({ userId: 'user-42', email: null, name: null });
    expect(second.body.data?.me.id).toBe(first.body.data?.me.id);
    expect(new Date(first.body.data?.me.createdAt ?? '').getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('creates exactly one customer under concurrent first requests', async () => {
    const token = await t.token('user-race');
    const results = await Promise.all(Array.from({ length: 8 }, () => t.gql(MeDocument, {}, { token })));
    const ids = new Set(results.map((r) => r.body.data?.me.id));
    expect(results.every((r) => r.body.errors === undefined)).toBe(true);
    expect(ids.size).toBe(1);
    const rows = await t.database.db.orm.em.fork().count(Customer, { externalUserId: 'user-race' });
    expect(rows).toBe(1);
  });
});

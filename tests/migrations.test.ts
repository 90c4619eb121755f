import { migrate, pendingMigrations } from '../src/entities/orm';
import { MIGRATIONS } from '../src/entities/migrations';
import type { TestDatabase } from './helpers/database';
import { createEmptyDatabase } from './helpers/database';

describe('migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createEmptyDatabase();
  });
  afterAll(() => t.drop());

  it('apply to an empty database, then nothing is pending', async () => {
    expect(await pendingMigrations(t.db.orm)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await migrate(t.db.orm)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await pendingMigrations(t.db.orm)).toEqual([]);
  });

  it('agree with the entities: no pending schema diff', async () => {
    const diff = await t.db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
    expect(diff.trim()).toBe('');
  });

  it('enforce one non-VOID invoice per customer and period in the database', async () => {
    const conn = t.db.orm.em.fork().getConnection();
    await conn.execute(
      `insert into customers (id, external_user_id) values ('00000000-0000-4000-8000-000000000001', 'u-1')`,
    );
    const insert = (id: string, number: string, status: string): Promise<unknown> =>
      conn.execute(
        `insert into invoices (id, number, customer_id, period, period_start, period_end, status, currency)
         values ('${id}', '${number}', '00000000-0000-4000-8000-000000000001', '2024-01',
                 '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', '${status}', 'usd')`,
      );
    await insert('00000000-0000-4000-8000-00000000000a', 'AH-2024-01-000001-20240201', 'VOID');
    await insert('00000000-0000-4000-8000-00000000000b', 'AH-2024-01-000002-20240201', 'OPEN');
    await expect(insert('00000000-0000-4000-8000-00000000000c', 'AH-2024-01-000003-20240201', 'DRAFT')).rejects.toThrow(
      /invoices_customer_period_active_unique/,
    );
    await expect(insert('00000000-0000-4000-8000-00000000000d', 'AH-2024-01-000002-20240201', 'VOID')).rejects.toThrow(
      /invoices_number_unique/,
    );
  });

  it('roll back and forward again', async () => {
    const migrator = t.db.orm.getMigrator();
    await migrator.down({ to: 0 });
    expect(await pendingMigrations(t.db.orm)).toHaveLength(MIGRATIONS.length);
    const tables = await t.db.orm.em
      .fork()
      .getConnection()
      .execute<Array<{ n: string }>>(
        `select count(*)::text as n from information_schema.tables where table_name = 'invoices'`,
      );
    expect(tables[0].n).toBe('0');
    await migrate(t.db.orm);
    expect(await pendingMigrations(t.db.orm)).toEqual([]);
  });
});

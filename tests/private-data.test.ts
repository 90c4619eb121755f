import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Stripe from 'stripe';
import { loadConfig } from '../src/config/config';
import { startLocalStripe } from '../src/dev-stripe';
import { migrate, openDatabase } from '../src/entities/orm';
import { ensurePrivateDir } from '../src/lib/private-files';
import { resolveJwtSecret } from '../src/services/customers/auth.service';
import { TEST_STRIPE_KEY } from './helpers/server';

/** Every folder and file under `root` (itself included) with its permission bits, as `ls -l` would show them. */
function modes(root: string): Array<{ path: string; kind: 'dir' | 'file'; mode: string }> {
  const out: Array<{ path: string; kind: 'dir' | 'file'; mode: string }> = [];
  const walk = (at: string): void => {
    const stat = statSync(at);
    out.push({
      path: path.relative(root, at) || '.',
      kind: stat.isDirectory() ? 'dir' : 'file',
      mode: octal(stat.mode),
    });
    if (stat.isDirectory()) {
      readdirSync(at).forEach((name) => walk(path.join(at, name)));
    }
  };
  walk(root);
  return out;
}
const octal = (mode: number): string => (mode & 0o777).toString(8).padStart(3, '0');
const notPrivate = (root: string) =>
  modes(root).filter((entry) => entry.mode !== (entry.kind === 'dir' ? '700' : '600'));

describe('DATA_DIR is private by default, whatever the umask', () => {
  let previousUmask: number;
  let scratch: string;
  beforeAll(() => {
    // The most permissive umask: every file another user could read or write unless the code says otherwise.
    previousUmask = process.umask(0);
    scratch = mkdtempSync(path.join(tmpdir(), 'billing-private-'));
  });
  afterAll(() => {
    process.umask(previousUmask);
    rmSync(scratch, { recursive: true, force: true });
  });

  it('creates DATA_DIR 0700 and every file in it 0600: secrets, the embedded database, the local Stripe state', async () => {
    const dataDir = path.join(scratch, 'fresh', 'data');
    const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir, STRIPE_EMULATOR_PORT: '0' });

    // As `npm start` does: the development JWT secret, the local Stripe, then the embedded database.
    resolveJwtSecret(config);
    const local = await startLocalStripe(config);
    const stripe = new Stripe(TEST_STRIPE_KEY, { ...local.emulator.stripeConfig, maxNetworkRetries: 0 });
    await stripe.customers.create({ email: 'private@example.com' });
    await local.emulator.stop(); // writes its state file

    ensurePrivateDir(config.dataDir);
    const db = await openDatabase({ pgliteDataDir: path.join(config.dataDir, 'pglite') });
    await migrate(db.orm);
    await db.orm.em.fork().getConnection().execute(`create table private_probe (id int)`);
    // While it runs, PGlite's new files may be 0666 until it closes, but no other user can reach into its folder.
    expect(octal(statSync(dataDir).mode)).toBe('700');
    expect(octal(statSync(path.join(dataDir, 'pglite')).mode)).toBe('700');
    await db.close();

    const entries = modes(dataDir);
    expect(entries.find((e) => e.path === '.')).toEqual({ path: '.', kind: 'dir', mode: '700' });
    expect(entries.map((e) => e.path)).toEqual(
      expect.arrayContaining(['dev-jwt-secret', 'dev-webhook-secret', 'stripe-emulator.json', 'pglite']),
    );
    expect(entries.filter((e) => e.path.startsWith('pglite')).length).toBeGreaterThan(100);
    expect(notPrivate(dataDir)).toEqual([]);
  });

  it('makes an embedded database an earlier version left readable private when it opens it', async () => {
    const pgliteDir = path.join(scratch, 'legacy', 'pglite');
    // A database written before this fix: folders 0777/0755, files 0666.
    const first = await openDatabase({ pgliteDataDir: pgliteDir });
    await first.close();
    for (const entry of modes(pgliteDir)) {
      chmodSync(path.join(pgliteDir, entry.path), entry.kind === 'dir' ? 0o755 : 0o666);
    }
    mkdirSync(path.join(pgliteDir, 'stray'), { mode: 0o777 });
    writeFileSync(path.join(pgliteDir, 'stray', 'note'), 'x', { mode: 0o666 });
    expect(notPrivate(pgliteDir).length).toBeGreaterThan(100);

    const reopened = await openDatabase({ pgliteDataDir: pgliteDir });
    await reopened.orm.em.fork().getConnection().execute('select 1');
    await reopened.close();
    expect(notPrivate(pgliteDir)).toEqual([]);
  });
});

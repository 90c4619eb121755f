import { COMMON_OPTIONS, parseCommandLine } from '../../src/cli/args';
import { UsageError, checkFlags, timeFlag } from '../../src/cli/billing-commands';
import { COMMAND_OPTIONS } from '../../src/cli/billing-options';
import { tokenCommand } from '../../src/cli/token-command';
import { loadConfig } from '../../src/config/config';
import { createTokenVerifier } from '../../src/services/customers/auth.service';

/** The command line of one command, read as `npm run billing` reads it (its options and the common ones). */
const parse = (key: string, ...argv: string[]) =>
  parseCommandLine(argv, { ...COMMAND_OPTIONS[key], ...COMMON_OPTIONS }).flags;
const check = (key: string, ...argv: string[]) => checkFlags(key, parse(key, ...argv));
const flagsOf = (...argv: string[]) => parse('token', ...argv);

describe('operator CLI options', () => {
  it('refuses an option the command does not know: a mistyped --dry-run must not apply anything', () => {
    expect(() => check('reconcile', '--period', '2024-01', '--dryrun')).toThrow(
      new UsageError('Unknown option --dryrun'),
    );
    expect(() => check('run', '--period', '2024-01', '--dry-run')).toThrow(/Unknown option --dry-run/);
    expect(() => check('reconcile', '--period', '2024-01', '--dry-run', '--json')).not.toThrow();
    expect(() => check('run', 'extra', '--period', '2024-01')).toThrow(/Unexpected argument extra/);
  });

  it('takes switches without a value, and refuses a value it could read as "off"', () => {
    expect(() => check('reconcile', '--period=2024-01', '--dry-run=yes')).toThrow(/--dry-run takes no value/);
    expect(() => check('reconcile', '--period=2024-01', '--dry-run=false')).toThrow(/--dry-run takes no value/);
    expect(parse('reconcile', '--period=2024-01', '--dry-run')).toEqual({ period: '2024-01', 'dry-run': true });
    expect(() => check('run', '--period')).toThrow(/--period needs a value/);
  });

  it('reads --since strictly: a real date or an ISO time with its zone', () => {
    const since = (value: string) => parse('webhooks recover', '--since', value);
    expect(timeFlag(since('2024-02-01'), 'since')?.toISOString()).toBe('2024-02-01T00:00:00.000Z');
    expect(timeFlag(since('2024-02-01T10:00:00+02:00'), 'since')?.toISOString()).toBe('2024-02-01T08:00:00.000Z');
    for (const bad of ['2026-02-30', '1', 'Nov 1 2026', '2024-02-01T10:00:00', '2024-13-01']) {
      expect(() => timeFlag(since(bad), 'since')).toThrow(UsageError);
    }
  });

  it('mints tokens only for a positive duration', async () => {
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(40) });
    for (const bad of ['bogus', '-5s', '0h']) {
      await expect(tokenCommand(config, flagsOf('--sub', 'a', `--expires=${bad}`))).rejects.toThrow(UsageError);
    }
    await expect(tokenCommand(config, flagsOf('--sub', 'a', '--expires', '30m'))).resolves.toMatchObject({ code: 0 });
  });

  it('mints tokens the server accepts when JWT_ISSUER and JWT_AUDIENCE are set', async () => {
    const config = loadConfig({
      JWT_SECRET: 'x'.repeat(40),
      JWT_ISSUER: 'https://id.example',
      JWT_AUDIENCE: 'billing',
    });
    const { result } = await tokenCommand(config, flagsOf('--sub', 'u-7', '--role', 'admin'));
    const verify = createTokenVerifier(config);
    await expect(verify((result as { token: string }).token)).resolves.toMatchObject({ userId: 'u-7', role: 'admin' });
  });
});

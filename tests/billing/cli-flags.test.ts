import { UsageError, checkFlags, timeFlag } from '../../src/cli/billing-commands';
import { parseArgs } from '../../src/cli/args';
import { tokenCommand } from '../../src/cli/billing-misc-commands';
import { loadConfig } from '../../src/config/config';
import { createTokenVerifier } from '../../src/services/auth.service';

const flagsOf = (...argv: string[]) => parseArgs(argv).flags;

describe('operator CLI options', () => {
  it('refuses an option the command does not know: a mistyped --dry-run must not apply anything', () => {
    expect(() => checkFlags('reconcile', flagsOf('--period', '2024-01', '--dryrun'))).toThrow(
      new UsageError('Unknown option --dryrun for "reconcile"'),
    );
    expect(() => checkFlags('run', flagsOf('--period', '2024-01', '--dry-run'))).toThrow(/Unknown option --dry-run/);
    expect(() => checkFlags('reconcile', flagsOf('--period', '2024-01', '--dry-run', '--json'))).not.toThrow();
  });

  it('takes switches alone or as =true/=false, and refuses a value it would read as "off"', () => {
    expect(() => checkFlags('reconcile', flagsOf('--period=2024-01', '--dry-run=yes'))).toThrow(/takes no value/);
    expect(() => checkFlags('reconcile', flagsOf('--period=2024-01', '--dry-run=true'))).not.toThrow();
    expect(() => checkFlags('run', flagsOf('--period'))).toThrow(/--period needs a value/);
  });

  it('reads --since strictly: a real date or an ISO time with its zone', () => {
    expect(timeFlag(flagsOf('--since', '2024-02-01'), 'since')?.toISOString()).toBe('2024-02-01T00:00:00.000Z');
    expect(timeFlag(flagsOf('--since', '2024-02-01T10:00:00+02:00'), 'since')?.toISOString()).toBe(
      '2024-02-01T08:00:00.000Z',
    );
    for (const bad of ['2026-02-30', '1', 'Nov 1 2026', '2024-02-01T10:00:00', '2024-13-01']) {
      expect(() => timeFlag(flagsOf('--since', bad), 'since')).toThrow(UsageError);
    }
  });

  it('mints tokens only for a positive duration', async () => {
    const config = loadConfig({ JWT_SECRET: 'x'.repeat(40) });
    for (const bad of ['bogus', '-5s', '0h']) {
      await expect(tokenCommand(config, flagsOf('--sub', 'a', '--expires', bad))).rejects.toThrow(UsageError);
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

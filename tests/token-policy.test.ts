import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT } from 'jose';
import { tokenCommand } from '../src/cli/token-command';
import { UsageError } from '../src/cli/args';
import { loadConfig } from '../src/config/config';
import { Role } from '../src/entities/enums';
import { createTokenVerifier, mintToken } from '../src/services/customers/auth.service';
import { ManualClock } from './helpers/clock';

const SECRET = 'token-policy-secret-0123456789abcdef0123';
const HOUR = 3600;
const DAY = 24 * HOUR;

/**
 * What a token must be (issue 17): it expires, lives no longer than its role allows, is not issued (or valid from)
 * further ahead than the clock skew, and names a subject that is printable text. Time is the verifier's ManualClock.
 */
describe('token policy', () => {
  const clock = new ManualClock(new Date('2026-06-01T12:00:00Z'));
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: SECRET,
    DATA_DIR: mkdtempSync(path.join(tmpdir(), 'token-policy-')),
  });
  const verify = createTokenVerifier(config, clock);
  const now = (): number => Math.floor(clock.now() / 1000);

  /** A token with exactly these claims (none added), signed with the server's secret. */
  const sign = (claims: Record<string, unknown>): Promise<string> =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));

  const refusal = async (claims: Record<string, unknown>): Promise<string> => {
    const error = (await verify(await sign(claims)).then(
      () => null,
      (e: unknown) => e,
    )) as { code?: string; message?: string } | null;
    expect(error?.code).toBe('UNAUTHENTICATED');
    return error?.message ?? '';
  };

  it('refuses a token without exp, whatever its role', async () => {
    for (const role of Object.values(Role)) {
      expect(await refusal({ sub: 'u', role, iat: now() })).toBe('Token has no "exp" claim');
    }
  });

  it('accepts each role up to its lifetime (user 24 h, admin 24 h, service 90 d) and refuses a second more', async () => {
    const limits: Array<[Role, number]> = [
      [Role.USER, DAY],
      [Role.ADMIN, DAY],
      [Role.SERVICE, 90 * DAY],
    ];
    for (const [role, lifetime] of limits) {
      await expect(verify(await sign({ sub: 'u', role, iat: now(), exp: now() + lifetime }))).resolves.toEqual({
        userId: 'u',
        role,
      });
      expect(await refusal({ sub: 'u', role, iat: now(), exp: now() + lifetime + 1 })).toMatch(/lives longer/);
    }
    // Without iat the lifetime left is what counts; an old iat does not make a long-lived token acceptable.
    expect(await refusal({ sub: 'u', exp: now() + DAY + 60 })).toMatch(/lives longer/);
    expect(await refusal({ sub: 'u', iat: now() - 10 * DAY, exp: now() + HOUR })).toMatch(/lives longer/);
  });

  it('takes the lifetimes from the configuration', async () => {
    const strict = createTokenVerifier(
      loadConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, JWT_MAX_LIFETIME_SERVICE_SECONDS: '3600' }),
      clock,
    );
    await expect(strict(await sign({ sub: 's', role: 'service', iat: now(), exp: now() + 2 * HOUR }))).rejects.toThrow(
      /lives longer/,
    );
  });

  it('refuses iat or nbf further in the future than the clock skew (60 s), accepts them within it', async () => {
    const exp = now() + HOUR;
    await expect(verify(await sign({ sub: 'u', iat: now() + 60, exp }))).resolves.toMatchObject({ userId: 'u' });
    await expect(verify(await sign({ sub: 'u', iat: now(), nbf: now() + 60, exp }))).resolves.toMatchObject({
      userId: 'u',
    });
    expect(await refusal({ sub: 'u', iat: now() + 61, exp })).toBe('Token claim "iat" is in the future');
    expect(await refusal({ sub: 'u', iat: now() + 10 * 365 * DAY, exp })).toBe('Token claim "iat" is in the future');
    expect(await refusal({ sub: 'u', iat: now(), nbf: now() + 61, exp })).toBe('Token claim "nbf" is invalid');
  });

  it('gives exp no grace: a token is refused from its exp on, as the streams end then', async () => {
    const token = await sign({ sub: 'u', iat: now(), exp: now() + HOUR });
    clock.advance(HOUR * 1000 - 1000);
    await expect(verify(token)).resolves.toMatchObject({ userId: 'u' });
    clock.advance(1000);
    await expect(verify(token)).rejects.toThrow('Token has expired');
  });

  it.each([
    ['NUL', 'victim\u0000'],
    ['a control character', 'victim\u001b[31m'],
    ['DEL', 'victim\u007f'],
    ['a line separator', 'victim\u2028'],
    ['a lone high surrogate', 'victim\ud800'],
    ['a lone low surrogate', 'victim\udfff'],
    ['a noncharacter', 'victim\uffff'],
    ['only spaces', '   '],
    ['more than 200 characters', 'x'.repeat(201)],
  ])('refuses a subject with %s', async (_what, sub) => {
    expect(await refusal({ sub, iat: now(), exp: now() + HOUR })).toBe('Token has no usable subject (sub)');
  });

  it('keeps different subjects apart: of victim\\ud800, victim\\udfff and victim\\ufffd only the last is a subject', async () => {
    const subjects = ['victim\ud800', 'victim\udfff', 'victim\ufffd', 'victim'];
    const accepted = new Set<string>();
    for (const sub of subjects) {
      const caller = await verify(await sign({ sub, iat: now(), exp: now() + HOUR })).catch(() => null);
      if (caller) {
        accepted.add(Buffer.from(caller.userId, 'utf8').toString('hex'));
      }
    }
    // Two accepted subjects, and their stored (UTF-8) forms differ.
    expect(accepted.size).toBe(2);
    await expect(verify(await sign({ sub: 'Ünïcödé 用户 🙂', iat: now(), exp: now() + HOUR }))).resolves.toMatchObject({
      userId: 'Ünïcödé 用户 🙂',
    });
  });

  it('mints tokens within the lifetimes (`npm run token`), issued at the given time', async () => {
    const flags = (role: string, expires: string) => ({ sub: 'ops', role, expires });
    await expect(tokenCommand(config, flags('user', '25h'))).rejects.toThrow(UsageError);
    await expect(tokenCommand(config, flags('admin', '2d'))).rejects.toThrow(UsageError);
    await expect(tokenCommand(config, flags('service', '91d'))).rejects.toThrow(UsageError);
    await expect(tokenCommand(config, flags('service', '90d'))).resolves.toMatchObject({ code: 0 });
    const minted = await mintToken(SECRET, { sub: 'u', role: Role.USER, expiresIn: '24h', issuedAt: clock.now() });
    await expect(verify(minted)).resolves.toMatchObject({ userId: 'u' });
  });
});

/**
 * Rotating the HS256 secret (docs/operations.md#rotating-the-jwt-secret): during the overlap the secret being replaced
 * (`JWT_PREVIOUS_SECRET`) still verifies the tokens signed with it while new ones are signed with `JWT_SECRET`; after
 * it, only the new secret does. A token signed with neither is refused throughout.
 */
describe('rotating the JWT secret', () => {
  const OLD = 'rotation-old-secret-0123456789abcdef0123';
  const NEW = 'rotation-new-secret-0123456789abcdef0123';
  const OTHER = 'rotation-some-other-secret-0123456789abc';
  // `npm run token` (tokenCommand) issues at the system time: the verifiers' clock starts there (the clock skew,
  // 60 s, covers the instant between), and only moves when the test moves it.
  const clock = new ManualClock(new Date());
  const dataDir = mkdtempSync(path.join(tmpdir(), 'token-rotation-'));
  const settings = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, ...env });
  const signedWith = (secret: string): Promise<string> =>
    mintToken(secret, { sub: 'platform', role: Role.SERVICE, expiresIn: '1h', issuedAt: clock.now() });
  const outcome = (verify: ReturnType<typeof createTokenVerifier>, token: string): Promise<string> =>
    verify(token).then(
      (caller) => `accepted ${caller.userId}`,
      (error: Error) => `refused: ${error.message}`,
    );

  it('accepts tokens of both secrets during the overlap, then only the new one', async () => {
    const before = createTokenVerifier(settings({ JWT_SECRET: OLD }), clock);
    const overlap = createTokenVerifier(settings({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRET: OLD }), clock);
    const after = createTokenVerifier(settings({ JWT_SECRET: NEW }), clock);
    const oldToken = await signedWith(OLD);
    // What `npm run token` mints during the overlap: signed with JWT_SECRET, the new one.
    const minted = await tokenCommand(settings({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRET: OLD }), {
      sub: 'platform',
      role: 'service',
      expires: '1h',
    });
    const newToken = minted.text;

    expect(await outcome(before, oldToken)).toBe('accepted platform');
    expect(await outcome(before, newToken)).toBe('refused: Token signature is invalid');
    expect(await outcome(overlap, oldToken)).toBe('accepted platform');
    expect(await outcome(overlap, newToken)).toBe('accepted platform');
    expect(await outcome(after, newToken)).toBe('accepted platform');
    expect(await outcome(after, oldToken)).toBe('refused: Token signature is invalid');
    for (const verify of [before, overlap, after]) {
      expect(await outcome(verify, await signedWith(OTHER))).toBe('refused: Token signature is invalid');
    }
  });

  it('checks the previous secret like the current one: an expired token of the old secret is refused', async () => {
    const overlap = createTokenVerifier(settings({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRET: OLD }), clock);
    const oldToken = await signedWith(OLD);
    clock.advance(2 * HOUR * 1000);
    expect(await outcome(overlap, oldToken)).toBe('refused: Token has expired');
  });

  it('refuses a previous secret without JWT_SECRET, equal to it, or too short', () => {
    expect(() => settings({ JWT_PREVIOUS_SECRET: OLD })).toThrow(/JWT_PREVIOUS_SECRET: is only used with JWT_SECRET/);
    expect(() => settings({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRET: NEW })).toThrow(
      /JWT_PREVIOUS_SECRET: must differ from JWT_SECRET/,
    );
    expect(() => settings({ JWT_SECRET: NEW, JWT_PREVIOUS_SECRET: 'short' })).toThrow(
      /JWT_PREVIOUS_SECRET: must be at least 32 characters/,
    );
  });
});

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { SecretBox, SecretUnreadableError } from '../../src/lib/secret-box';
import { devSecretsKeyPath, secretBoxFromConfig } from '../../src/services/shared/secrets-at-rest';

const k1 = { kid: 'k1', key: randomBytes(32) };
const k2 = { kid: 'k2', key: randomBytes(32) };
const secret = `whsec_${randomBytes(24).toString('base64')}`;

describe('SecretBox (AES-256-GCM with key ids)', () => {
  it('seals with the first key, a fresh IV each time, and opens with any key of the ring', () => {
    const box = new SecretBox(() => [k1]);
    const a = box.seal(secret, 'row-1');
    const b = box.seal(secret, 'row-1');
    expect(a).toMatch(/^v1:k1:/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret.slice(6, 20));
    expect(box.open(a, 'row-1')).toBe(secret);
    const rotated = new SecretBox(() => [k2, k1]);
    expect(rotated.open(a, 'row-1')).toBe(secret);
    expect(rotated.needsSealing(a)).toBe(true);
    const resealed = rotated.reseal(a, 'row-1');
    expect(resealed).toMatch(/^v1:k2:/);
    expect(rotated.needsSealing(resealed)).toBe(false);
    expect(rotated.reseal(resealed, 'row-1')).toBe(resealed);
  });

  it('hands a legacy plain value back as is, and says it is due for sealing', () => {
    const box = new SecretBox(() => [k1]);
    expect(box.open(secret, 'row-1')).toBe(secret);
    expect(box.needsSealing(secret)).toBe(true);
  });

  it.each([
    [
      'a key that is not configured',
      (s: string) => s,
      new SecretBox(() => [k2]),
      /sealed with key "k1", which is not among the configured keys \(k2\)/,
    ],
    ['another row', (s: string) => s, undefined, /does not open with key "k1"/],
    [
      'altered ciphertext',
      (s: string) => `${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`,
      undefined,
      /does not open with key "k1"/,
    ],
    [
      'a different key under the same id',
      (s: string) => s,
      new SecretBox(() => [{ kid: 'k1', key: randomBytes(32) }]),
      /does not open with key "k1"/,
    ],
    ['a broken envelope', () => 'v1:k1:abc', undefined, /not a v1 envelope/],
  ])('refuses %s with a reason that names no secret', (what, change, other, message) => {
    const box = new SecretBox(() => [k1]);
    const sealed = change(box.seal(secret, 'row-1'));
    const opener = other ?? box;
    const context = what === 'another row' ? 'row-2' : 'row-1';
    expect(() => opener.open(sealed, context)).toThrow(SecretUnreadableError);
    expect(() => opener.open(sealed, context)).toThrow(message);
  });
});

describe('the development key (no SECRETS_ENCRYPTION_KEYS outside production)', () => {
  it('is generated once into DATA_DIR (0600), on first use only, and opens what it sealed after a restart', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'secret-box-'));
    try {
      const config = loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir });
      const box = secretBoxFromConfig(config);
      expect(() => statSync(devSecretsKeyPath(config))).toThrow();
      const sealed = box.seal(secret, 'row-1');
      expect(sealed).toMatch(/^v1:dev:/);
      expect(statSync(devSecretsKeyPath(config)).mode & 0o777).toBe(0o600);
      expect(Buffer.from(readFileSync(devSecretsKeyPath(config), 'utf8').trim(), 'base64')).toHaveLength(32);
      expect(secretBoxFromConfig(config).open(sealed, 'row-1')).toBe(secret);
      // A damaged key file is a reason on what needed it, not a crash.
      writeFileSync(devSecretsKeyPath(config), 'not a key\n');
      expect(() => secretBoxFromConfig(config).open(sealed, 'row-1')).toThrow(SecretUnreadableError);
      expect(() => secretBoxFromConfig(config).open(sealed, 'row-1')).toThrow(
        /^no usable encryption key: .*dev-secrets-key does not hold a 32-byte base64 key/,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

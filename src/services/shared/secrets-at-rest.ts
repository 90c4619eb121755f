import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { AppConfig } from '../../config/config';
import { ensurePrivateDir, writePrivateFile } from '../../lib/private-files';
import { SecretBox } from '../../lib/secret-box';
import type { EncryptionKey } from '../../lib/secret-box';

const DEV_KEY_FILE = 'dev-secrets-key';
const DEV_KID = 'dev';

export function devSecretsKeyPath(config: Pick<AppConfig, 'dataDir'>): string {
  return path.join(config.dataDir, DEV_KEY_FILE);
}

/**
 * The development key (outside production, with `SECRETS_ENCRYPTION_KEYS` unset), as for the development JWT secret:
 * 32 random bytes generated once into the data folder (0600), so what was sealed stays readable across restarts.
 * Written under a temporary name and linked into place, so two processes starting at once agree on one key.
 */
function developmentKey(config: Pick<AppConfig, 'dataDir'>): EncryptionKey {
  const file = devSecretsKeyPath(config);
  if (!existsSync(file)) {
    ensurePrivateDir(config.dataDir);
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writePrivateFile(temporary, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx' });
    try {
      linkSync(temporary, file);
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') {
        throw error;
      }
    } finally {
      unlinkSync(temporary);
    }
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length !== 32) {
    throw new Error(`${file} does not hold a 32-byte base64 key: remove it only if nothing was sealed with it`);
  }
  return { kid: DEV_KID, key };
}

/**
 * The box that seals secrets stored in the database (outgoing webhook signing secrets) with the keys of
 * `SECRETS_ENCRYPTION_KEYS`, or the development key; its keys are loaded on first use.
 */
export function secretBoxFromConfig(
  config: Pick<AppConfig, 'secretsEncryptionKeys' | 'nodeEnv' | 'dataDir'>,
): SecretBox {
  return new SecretBox(() => {
    if (config.secretsEncryptionKeys) {
      return config.secretsEncryptionKeys;
    }
    if (config.nodeEnv === 'production') {
      // The configuration refuses this before anything starts; kept as the last guard.
      throw new Error('SECRETS_ENCRYPTION_KEYS is required in production');
    }
    return [developmentKey(config)];
  });
}

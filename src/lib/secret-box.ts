import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** One key of the ring: its id (stored beside each ciphertext) and 32 bytes of AES-256 key. */
export interface EncryptionKey {
  kid: string;
  key: Buffer;
}

/** A stored secret that cannot be opened: its key is not in the ring, or the ciphertext was altered. */
export class SecretUnreadableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretUnreadableError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const b64 = (bytes: Buffer): string => bytes.toString('base64url');

/**
 * Secrets we must use again later (so hashing will not do), encrypted at rest: AES-256-GCM with a fresh 96-bit IV,
 * stored as `v1:<kid>:<iv>:<tag>:<ciphertext>` (base64url). The first key of the ring seals; every key opens, so a
 * key can be rotated: add the new one first, re-seal, then drop the old one. `context` is the GCM additional data
 * (e.g. the owning row's id): a ciphertext copied to another row does not open there.
 *
 * A stored value that is not `v1:…` is a legacy plain secret written before encryption: `open` hands it back as is
 * and `needsSealing` says it is due (the ring is needed only when something is sealed or opened).
 */
export class SecretBox {
  private ring?: readonly EncryptionKey[];

  /** `keys` is read on first use: a process that never touches a secret never loads (or creates) a key. */
  constructor(private readonly keys: () => readonly EncryptionKey[]) {}

  /** The ring, loaded once; a ring that cannot be loaded is an unreadable secret (a delivery records why). */
  private get keyRing(): readonly EncryptionKey[] {
    if (!this.ring) {
      let ring: readonly EncryptionKey[];
      try {
        ring = this.keys();
      } catch (error) {
        throw new SecretUnreadableError(`no usable encryption key: ${(error as Error).message}`);
      }
      if (ring.length === 0) {
        throw new SecretUnreadableError('no encryption key is configured');
      }
      this.ring = ring;
    }
    return this.ring;
  }

  /** The id of the key that seals. */
  get currentKid(): string {
    return this.keyRing[0].kid;
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(`${VERSION}:`);
  }

  seal(plain: string, context: string): string {
    const { kid, key } = this.keyRing[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, kid, b64(iv), b64(cipher.getAuthTag()), b64(body)].join(':');
  }

  /** The plain secret; a legacy plain value as is. Throws `SecretUnreadableError`, never naming the secret. */
  open(stored: string, context: string): string {
    if (!SecretBox.isSealed(stored)) {
      return stored;
    }
    const [, kid, iv, tag, body, extra] = stored.split(':');
    if (body === undefined || extra !== undefined) {
      throw new SecretUnreadableError('the stored secret is not a v1 envelope');
    }
    const entry = this.keyRing.find((k) => k.kid === kid);
    if (!entry) {
      throw new SecretUnreadableError(
        `the stored secret is sealed with key "${kid}", which is not among the configured keys ` +
          `(${this.keyRing.map((k) => k.kid).join(', ')})`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', entry.key, Buffer.from(iv, 'base64url'), {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadableError(
        `the stored secret does not open with key "${kid}" (a different key under that id, or altered data)`,
      );
    }
  }

  /** True for a legacy plain value or one sealed with another key than the current one. */
  needsSealing(stored: string): boolean {
    return !SecretBox.isSealed(stored) || stored.split(':')[1] !== this.currentKid;
  }

  /** Sealed with the current key: opened and sealed again when it is not already. */
  reseal(stored: string, context: string): string {
    return this.needsSealing(stored) ? this.seal(this.open(stored, context), context) : stored;
  }
}

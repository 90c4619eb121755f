import type { EntityManager } from '@mikro-orm/postgresql';
import type { EndpointSecret } from '../../entities';
import { SecretBox, SecretUnreadableError } from '../../lib/secret-box';

/**
 * The signing secrets of outgoing webhook endpoints at rest. Standard Webhooks signs with the secret itself, so it
 * must be recoverable: each `whsec_…` is sealed by the `SecretBox` (AES-256-GCM, `SECRETS_ENCRYPTION_KEYS`) bound to
 * its endpoint's id, and opened only to sign a delivery. Rows written before encryption hold the plain secret: they
 * still sign, and are sealed at start (`sealLegacyEndpointSecrets`) or by `webhook-endpoints reencrypt`.
 */

/** The GCM additional data of an endpoint's secrets: a sealed secret copied to another endpoint does not open. */
const context = (endpointId: string): string => `webhook_endpoints:${endpointId}`;

/** A new signing secret, sealed, signing from `createdAt` until rotated away. */
export function sealedSecret(box: SecretBox, endpointId: string, secret: string, createdAt: Date): EndpointSecret {
  return { secret: box.seal(secret, context(endpointId)), createdAt: createdAt.toISOString(), expiresAt: null };
}

/** Sealed with the current key (a legacy plain one, or one of an older key, is opened and sealed again). */
export function resealed(box: SecretBox, endpointId: string, secret: EndpointSecret): EndpointSecret {
  return { ...secret, secret: box.reseal(secret.secret, context(endpointId)) };
}

/** The plain secrets to sign with; throws `SecretUnreadableError` (naming a key id at most, never a secret). */
export function openSecrets(box: SecretBox, endpointId: string, secrets: readonly EndpointSecret[]): string[] {
  return secrets.map((s) => box.open(s.secret, context(endpointId)));
}

export interface ReencryptReport {
  /** The key everything is now sealed with. */
  kid: string;
  /** Endpoints whose row was rewritten. */
  endpoints: number;
  /** Secrets sealed (again). */
  secrets: number;
  /** Secrets whose rotation overlap had ended, dropped rather than sealed again (they never sign again). */
  dropped: number;
  /** Endpoints left as they were because a secret of theirs does not open (its key is gone), with the reason. */
  unreadable: Array<{ endpointId: string; reason: string }>;
}

const BATCH = 100;

/**
 * Seals every endpoint's secrets with the current key: legacy plain ones, and with `allKeys` those sealed with an
 * older key too (after `SECRETS_ENCRYPTION_KEYS` got a new first key), so the old key can then be removed.
 * Idempotent; in batches, each row locked while it is rewritten, so a rotation at the same time is not lost.
 */
export async function reencryptEndpointSecrets(
  em: EntityManager,
  box: SecretBox,
  options: { allKeys: boolean; now: Date },
): Promise<ReencryptReport> {
  const report: ReencryptReport = { kid: '', endpoints: 0, secrets: 0, dropped: 0, unreadable: [] };
  const due = (s: EndpointSecret): boolean =>
    options.allKeys ? box.needsSealing(s.secret) : !SecretBox.isSealed(s.secret);
  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await em.transactional(async (tem) => {
      const batch = await tem.execute<Array<{ id: string; secrets: unknown }>>(
        'select id, secrets from webhook_endpoints where id > ? order by id limit ? for update',
        [after, BATCH],
      );
      for (const row of batch) {
        const secrets = (typeof row.secrets === 'string' ? JSON.parse(row.secrets) : row.secrets) as EndpointSecret[];
        if (!secrets.some(due)) {
          continue;
        }
        const live = secrets.filter((s) => s.expiresAt === null || new Date(s.expiresAt) > options.now);
        try {
          const next = live.map((s) => (due(s) ? resealed(box, row.id, s) : s));
          await tem.execute(
            'update webhook_endpoints set secrets = ?::json, updated_at = now() where id = ?',
            [JSON.stringify(next), row.id],
            'run',
          );
          report.endpoints += 1;
          report.secrets += live.filter(due).length;
          report.dropped += secrets.length - live.length;
        } catch (error) {
          if (!(error instanceof SecretUnreadableError)) {
            throw error;
          }
          report.unreadable.push({ endpointId: row.id, reason: error.message });
        }
      }
      return batch;
    });
    if (rows.length < BATCH) {
      break;
    }
    after = rows[rows.length - 1].id;
  }
  report.kid = report.endpoints > 0 || options.allKeys ? box.currentKid : '';
  return report;
}

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startEmulator } from '../emulator/server';
import type { RunningEmulator } from '../emulator/server';
import type { AppConfig } from './config/config';
import { ensurePrivateDir, writePrivateFile } from './lib/private-files';

/**
 * `npm start` without Stripe keys: the local Stripe emulator runs beside the server (state kept under the data
 * folder so hosted invoice pages survive a restart) and delivers signed webhooks back to it, like
 * `stripe listen --forward-to`. Returns the configuration pointing at it. Never used in production (the
 * configuration refuses to start there without STRIPE_SECRET_KEY).
 */
export async function startLocalStripe(config: AppConfig): Promise<{ config: AppConfig; emulator: RunningEmulator }> {
  const secretFile = path.join(config.dataDir, 'dev-webhook-secret');
  // During a roll the emulator signs with the first secret listed; the server accepts any of them.
  let webhookSecret = config.stripe.webhookSecrets?.[0];
  if (!webhookSecret) {
    if (!existsSync(secretFile)) {
      ensurePrivateDir(config.dataDir);
      writePrivateFile(secretFile, `whsec_${randomBytes(24).toString('hex')}`);
    }
    webhookSecret = readFileSync(secretFile, 'utf8').trim();
  }
  // The local Stripe's state (customers, invoices, payment methods) lives in DATA_DIR: private like the rest.
  ensurePrivateDir(config.dataDir);
  const emulator = await startEmulator({
    port: config.stripe.emulatorPort,
    host: '127.0.0.1',
    webhookSecret,
    stateFile: path.join(config.dataDir, 'stripe-emulator.json'),
    accountName: config.company.name,
  });
  return {
    emulator,
    config: {
      ...config,
      stripe: {
        ...config.stripe,
        apiBase: emulator.url,
        webhookSecrets: config.stripe.webhookSecrets ?? [webhookSecret],
      },
    },
  };
}

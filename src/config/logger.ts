import pino from 'pino';
import type { Logger } from 'pino';
import type { AppConfig } from './config';

export type { Logger };

/**
 * Structured JSON logs. Anything that could carry a credential is redacted by path, so a careless
 * `log.info({ req })` or `log.info({ config })` still prints no secret.
 */
export function createLogger(config: Pick<AppConfig, 'logLevel'>, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'agenthub-billing' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'req.headers["stripe-signature"]',
          'headers.authorization',
          'authorization',
          'token',
          'secretKey',
          'webhookSecret',
          'webhookSecrets',
          'jwtSecret',
          'previousJwtSecret',
          'password',
          '*.secretKey',
          '*.webhookSecret',
          '*.webhookSecrets',
          '*.jwtSecret',
          '*.previousJwtSecret',
          '*.token',
          '*.password',
          'config.stripe',
          'config.auth',
          'config.databaseUrl',
        ],
        censor: '[redacted]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

import type { LockModes } from './locks';
import type { EmulatorClock } from './time';
import type { DeliveryModes } from './webhook-signing';

/** The emulator's settings (`startEmulator` options, after defaults). */
export interface EmulatorConfig {
  /** Target of every event, like `stripe listen --forward-to` (not listed as an endpoint). */
  webhookUrl?: string;
  webhookSecret: string;
  stateFile?: string;
  /** Base of hosted invoice URLs, e.g. http://127.0.0.1:12111. */
  publicBaseUrl: string;
  /** Delays between webhook delivery attempts, in ms (attempt n+1 waits schedule[n]). */
  retryScheduleMs: number[];
  webhookTimeoutMs: number;
  accountName: string;
  /**
   * Emulator time (object and event timestamps, key expiry, the rate limit's window) and every wait it makes: webhook
   * retries and delays, `latency` and `hang` faults. Default: the system's.
   */
  clock?: EmulatorClock;
  /** How events are delivered (`ideal` unless given; see `DeliveryModes`). */
  delivery?: Partial<DeliveryModes>;
  /** How long writes hold their objects' locks (`locks.ts`); default: the delivery profile's (realistic 5 ms, ideal 0). */
  locks?: Partial<LockModes>;
  /** Check every response and event against the SDK's schemas (`fidelity/guard.ts`). */
  fidelityGuard: boolean;
}

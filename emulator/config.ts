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
}

/** Public surface of the local Stripe emulator (a separate program; the app talks to it only over HTTP). */
export { startEmulator, DEFAULT_RETRY_SCHEDULE_MS, type EmulatorOptions, type RunningEmulator } from './server';
export { EmulatorControl } from './control-client';
export type { FaultKind, FaultRule, FaultRuleInput } from './chaos';
export type { DeliveryAttempt, DeliveryModes } from './webhook-signing';
export { signPayload } from './webhook-signing';
export { API_VERSION } from './context';

import type { Clock } from '../config/clock';
import type { OutgoingWebhookSettings } from '../config/config';
import type { Logger } from '../config/logger';
import { ChannelListener } from '../entities/channel-listener';
import type { Database } from '../entities/orm';
import type { Backoff } from '../lib/backoff';
import { SecretUnreadableError } from '../lib/secret-box';
import type { SecretBox } from '../lib/secret-box';
import { backoffDelayMs } from '../lib/backoff';
import { outgoingEndpointsDisabled, outgoingWebhookAttempts, outgoingWebhookDuration } from '../lib/metrics';
import { PollLoop } from '../lib/poll-loop';
import type { AttemptResult, ClaimedDelivery } from '../services/outgoing-webhooks/delivery-store';
import { claimDeliveries, disableEndpoint, recordAttempt } from '../services/outgoing-webhooks/delivery-store';
import { openSecrets } from '../services/outgoing-webhooks/endpoint-secrets';
import { OUTGOING_WEBHOOK_CHANNEL } from '../services/outgoing-webhooks/outbox';
import type { SendResult } from '../services/outgoing-webhooks/send-webhook';
import { sendWebhook, signedHeaders, signingSecrets } from '../services/outgoing-webhooks/send-webhook';

/** The LISTEN connection's reconnect: 250 ms doubling to 30 s, with jitter. */
const LISTEN_BACKOFF: Backoff = { baseMs: 250, maxMs: 30_000, jitter: 0.2 };

export interface OutgoingWebhookOptions extends OutgoingWebhookSettings {
  /** Wait after a round itself failed (database unreachable). Default 1 s. */
  errorDelayMs: number;
}

/**
 * Sends the outbox's deliveries to the platform's endpoints, in every instance. A round claims due deliveries in a
 * short transaction (`FOR UPDATE SKIP LOCKED`, each leased: a crashed instance's claims are taken up when the lease
 * ends), commits, POSTs them concurrently (never two of one invoice to one endpoint: the claim sees to it, so an
 * invoice's events arrive in order), then records each attempt in its own transaction. A failure is retried with the
 * one backoff until the retry window (three days by default) has passed since the first attempt; then the delivery
 * is failed and its endpoint disabled, with a warning in the log and the status in GraphQL. Each endpoint has one
 * rate shared by every instance, taken in the claim (`claimDeliveries`): what is over it stays pending, and this
 * worker wakes when the endpoint has a token again.
 * Every time it decides by (leases, retries, the rate) is the injected clock's.
 *
 * It wakes when there is work rather than by polling: the outbox's writer NOTIFYs `OUTGOING_WEBHOOK_CHANNEL` in the
 * transaction that queues a delivery (replays and enabling too), and every instance's worker LISTENs on it; a retry
 * or a delivery held back by the rate wakes the worker that scheduled it at its time. The poll
 * (`OUTGOING_WEBHOOK_POLL_MS`, 5 s) is only the fallback for what nothing announces: a lease that ran out (its
 * instance died), a retry scheduled by an instance since gone, notifications lost while the LISTEN connection was
 * down.
 */
/** An attempt this instance has recorded: the delivery and how it ended. */
export interface RecordedAttempt {
  deliveryId: string;
  outcome: AttemptResult['outcome']['kind'];
}

export class OutgoingWebhookWorker {
  private readonly loop: PollLoop;
  private readonly listener: ChannelListener;
  /** The earliest time this instance scheduled work for (a retry, a delivery over the rate) not yet reached. */
  private nextDueAt = Infinity;
  private readonly recordedListeners = new Set<(attempt: RecordedAttempt) => void>();

  constructor(
    private readonly db: Database,
    /** Opens the endpoints' sealed signing secrets (`SECRETS_ENCRYPTION_KEYS`). */
    private readonly secretBox: SecretBox,
    private readonly options: OutgoingWebhookOptions,
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {
    this.loop = new PollLoop(
      clock,
      options,
      () => this.round(),
      (error) => this.log.error({ err: error }, 'outgoing webhook round failed'),
    );
    this.listener = new ChannelListener(db, {
      channel: OUTGOING_WEBHOOK_CHANNEL,
      name: 'outgoing webhooks',
      onNotification: () => this.wake(),
      // Whatever was queued while the connection was down is claimed now.
      onBack: () => this.wake(),
      clock,
      backoff: LISTEN_BACKOFF,
      log,
    });
  }

  /** Listens for queued deliveries, then starts the loop (nothing queued after this resolves waits for the poll). */
  async start(): Promise<void> {
    if (this.options.workerEnabled && !this.loop.isRunning) {
      await this.listener.start();
      this.loop.start();
    }
  }

  /** Stops listening and polling, and waits for the deliveries in flight to be sent and recorded. */
  async stop(): Promise<void> {
    await this.listener.stop();
    await this.loop.stop();
  }

  /** Something was committed that may have made a delivery due: skip the rest of the idle sleep. */
  wake(): void {
    this.loop.wake();
  }

  /**
   * The loop's round: while a round claimed something, go again at once (the next event of an invoice becomes due
   * when the one before it is delivered); else sleep until what this instance scheduled is due, or the poll.
   */
  private async round(): Promise<number> {
    if (this.nextDueAt <= this.clock.now()) {
      // Due now: this round claims it (or it was taken elsewhere).
      this.nextDueAt = Infinity;
    }
    const { claimed } = await this.runOnce();
    return claimed > 0 ? 0 : Math.max(1, this.nextDueAt - this.clock.now());
  }

  private scheduled(at: number): void {
    this.nextDueAt = Math.min(this.nextDueAt, at);
  }

  /** One round: claim, send, record. Returns how many deliveries were claimed. For tests and operator tools. */
  async runOnce(): Promise<{ claimed: number }> {
    const now = new Date(this.clock.now());
    const { deliveries, throttledUntil } = await this.db.orm.em
      .fork()
      .transactional((tem) =>
        claimDeliveries(tem, { limit: this.options.batchSize, leaseMs: this.options.leaseMs, now }),
      );
    if (throttledUntil) {
      // The database's time is to the microsecond, ours to the millisecond: the next one up.
      this.scheduled(throttledUntil.getTime() + 1);
    }
    await Promise.all(deliveries.map((delivery) => this.deliver(delivery)));
    return { claimed: deliveries.length };
  }

  private async deliver(delivery: ClaimedDelivery): Promise<void> {
    const body = JSON.stringify({
      type: delivery.type,
      timestamp: delivery.occurredAt.toISOString(),
      data: delivery.data,
    });
    const sent = await this.sign(delivery, body, (headers) =>
      sendWebhook({
        url: delivery.url,
        headers,
        body,
        timeoutMs: this.options.timeoutMs,
        allowPrivateHosts: this.options.allowPrivateHosts,
      }),
    );
    const now = this.clock.now();
    const result: AttemptResult = { ...sent, outcome: { kind: 'delivered' } };
    if (sent.error !== null) {
      const retryAt =
        now +
        backoffDelayMs({ baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs }, delivery.attempt - 1);
      const windowEnd = delivery.firstAttemptAt.getTime() + this.options.retryWindowHours * 3_600_000;
      result.outcome = retryAt <= windowEnd ? { kind: 'retry', at: new Date(retryAt) } : { kind: 'failed' };
      if (result.outcome.kind === 'retry') {
        this.scheduled(retryAt);
      }
    }
    const disabled = await this.db.orm.em.fork().transactional(async (tem) => {
      await recordAttempt(tem, delivery, result, new Date(now));
      return result.outcome.kind === 'failed'
        ? disableEndpoint(
            tem,
            delivery.endpointId,
            `every attempt to deliver ${delivery.messageId} failed for ${this.options.retryWindowHours} hours (last: ${sent.error ?? 'unknown'})`,
            new Date(now),
          )
        : false;
    });
    this.report(delivery, result, disabled);
    for (const listener of [...this.recordedListeners]) {
      listener({ deliveryId: delivery.id, outcome: result.outcome.kind });
    }
  }

  /**
   * Signs the message and sends it. A signing secret that does not open (its key is not in `SECRETS_ENCRYPTION_KEYS`,
   * or the stored value was altered) sends nothing: the attempt fails with the reason and is retried like any failed
   * attempt, so restarting with the right keys within the retry window loses nothing.
   */
  private async sign(
    delivery: ClaimedDelivery,
    body: string,
    send: (headers: Record<string, string>) => Promise<SendResult>,
  ): Promise<SendResult> {
    let secrets: string[];
    try {
      secrets = openSecrets(this.secretBox, delivery.endpointId, signingSecrets(delivery.secrets, this.clock.now()));
    } catch (error) {
      if (!(error instanceof SecretUnreadableError)) {
        throw error;
      }
      return { statusCode: null, durationMs: 0, error: `not sent: cannot sign, ${error.message}` };
    }
    return send(signedHeaders({ id: delivery.messageId, body }, secrets, new Date()));
  }

  /**
   * Calls `listener` after each attempt of this instance is recorded (committed: the delivery's status and log are
   * what admins now read); returns its removal.
   */
  onRecorded(listener: (attempt: RecordedAttempt) => void): () => void {
    this.recordedListeners.add(listener);
    return () => this.recordedListeners.delete(listener);
  }

  private report(delivery: ClaimedDelivery, result: AttemptResult, disabled: boolean): void {
    const outcome = result.outcome.kind;
    outgoingWebhookAttempts.inc({ type: delivery.type, outcome });
    outgoingWebhookDuration.observe({ outcome }, result.durationMs / 1000);
    const base = {
      deliveryId: delivery.id,
      messageId: delivery.messageId,
      endpointId: delivery.endpointId,
      type: delivery.type,
      attempt: delivery.attempt,
      statusCode: result.statusCode,
      durationMs: Math.round(result.durationMs),
    };
    if (outcome === 'delivered') {
      this.log.info(base, 'outgoing webhook delivered');
    } else if (result.outcome.kind === 'retry') {
      this.log.warn(
        { ...base, error: result.error, retryAt: result.outcome.at },
        'outgoing webhook failed; will retry',
      );
    } else {
      this.log.error({ ...base, error: result.error }, 'outgoing webhook failed for the whole retry window');
    }
    if (disabled) {
      outgoingEndpointsDisabled.inc();
      this.log.warn(
        { endpointId: delivery.endpointId, messageId: delivery.messageId },
        'outgoing webhook endpoint disabled after persistent failure; re-enable it to resume (its failed deliveries are sent again)',
      );
    }
  }
}

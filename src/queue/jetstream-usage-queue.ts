import { createHash } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { connect, createInbox, headers } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import type { UsageIntakeSettings } from '../config/config';
import { ServiceUnavailableError } from '../services/shared/errors';
import type { QueuedMessage, UsageQueueSource } from '../services/usage/usage-queue-writer';
import type { QueuedUsageEvent } from '../services/usage/usage-queue';

/**
 * The one place that speaks NATS: the usage stream of `USAGE_INGEST=jetstream`, its durable consumer, publishing
 * and taking batches. Both are created at start when missing (any instance may be first; a second `add` of the same
 * name finds it there).
 */

/** How long the stream waits for an acknowledgement before it hands a message to another writer. */
const ACK_WAIT_MS = 60_000;
/** Messages handed out and not yet acknowledged, across every instance's writer. */
const MAX_ACK_PENDING = 200_000;

/** How long a writer gathers events that arrive after the first of a batch, before it writes. */
const WRITE_LINGER_MS = 50;

/** The longest a batch waits for JetStream to acknowledge all of its events. */
const PUBLISH_TIMEOUT_MS = 10_000;

const nanos = (ms: number): number => ms * 1_000_000;

/** JetStream's answer to a publish. */
interface PubAck {
  seq?: number;
  duplicate?: boolean;
  error?: { code: number; description: string };
}

/**
 * The `Nats-Msg-Id` of an event: its customer and idempotency key (hashed, so that any user id and key make a
 * header-safe id of fixed length). The stream drops a second message with the same id within its duplicate window.
 */
export function usageMessageId(event: { userId: string; idempotencyKey: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([event.userId, event.idempotencyKey]))
    .digest('base64url');
}

export class JetStreamUsageStream {
  private readonly js: JetStreamClient;
  private readonly sources = new Set<ConsumerMessages>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly settings: UsageIntakeSettings,
  ) {
    this.js = jetstream(nc);
  }

  /** Connects and makes sure the stream and the durable consumer exist. */
  static async open(settings: UsageIntakeSettings, name = 'agenthub-billing'): Promise<JetStreamUsageStream> {
    const nc = await connect({ servers: settings.natsUrl, name, maxReconnectAttempts: -1 });
    try {
      await ensureStreamAndConsumer(await jetstreamManager(nc), settings);
    } catch (error) {
      await nc.close();
      throw error;
    }
    return new JetStreamUsageStream(nc, settings);
  }

  /**
   * Publishes every event; resolves once the stream has stored them all (each publish acknowledgement received),
   * counting those it did not already hold. The events go out as plain publishes with one reply subject for the
   * batch, and the acknowledgements are counted as they come: several times faster than one request per event
   * (`js.publish`), which waits on a reply of its own each. A failure leaves some events stored: a retry of the
   * batch is dropped for those by their `Nats-Msg-Id`.
   */
  publish(events: QueuedUsageEvent[]): Promise<{ stored: number }> {
    if (events.length === 0) {
      return Promise.resolve({ stored: 0 });
    }
    return new Promise((resolve, reject) => {
      let acked = 0;
      let duplicates = 0;
      const fail = (error: Error): void => {
        clearTimeout(timer);
        subscription.unsubscribe();
        // The client is told to send the batch again (what was stored is dropped by its Nats-Msg-Id): a 503.
        reject(
          new ServiceUnavailableError(
            'The usage queue did not store the whole batch; send it again (events already stored count as duplicates)',
            { cause: error },
          ),
        );
      };
      const timer = setTimeout(
        () => fail(new Error(`JetStream acknowledged ${acked} of ${events.length} events in ${PUBLISH_TIMEOUT_MS} ms`)),
        PUBLISH_TIMEOUT_MS,
      );
      const subscription = this.nc.subscribe(createInbox(), {
        max: events.length,
        callback: (error, message) => {
          if (error) {
            fail(error);
            return;
          }
          const ack = message.data.length > 0 ? (message.json() as PubAck) : undefined;
          if (!ack || ack.error || ack.seq === undefined) {
            fail(new Error(`JetStream did not store an event: ${ack?.error?.description ?? 'no stream answered'}`));
            return;
          }
          duplicates += ack.duplicate ? 1 : 0;
          acked += 1;
          if (acked === events.length) {
            clearTimeout(timer);
            resolve({ stored: acked - duplicates });
          }
        },
      });
      try {
        for (const event of events) {
          const h = headers();
          h.set('Nats-Msg-Id', usageMessageId(event));
          this.nc.publish(this.settings.subject, JSON.stringify(event), {
            reply: subscription.getSubject(),
            headers: h,
          });
        }
      } catch (error) {
        // A closed connection refuses at once.
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** A source of batches from the shared durable consumer, for this instance's writer. */
  async source(): Promise<UsageQueueSource> {
    const consumer = await this.js.consumers.get(this.settings.stream, this.settings.consumer);
    const messages = await consumer.consume({ max_messages: this.settings.writeBatch });
    this.sources.add(messages);
    const iterator = messages[Symbol.asyncIterator]();
    // A `next()` still waiting when a linger ran out: the next call takes its message, so none is lost.
    let waiting: Promise<IteratorResult<JsMsg>> | undefined;
    const take = async (until?: Promise<'linger over'>): Promise<QueuedMessage | 'linger over' | undefined> => {
      waiting ??= iterator.next();
      const next = until ? await Promise.race([waiting, until]) : await waiting;
      if (next === 'linger over') {
        return next;
      }
      waiting = undefined;
      return next.done ? undefined : wrap(next.value);
    };
    return {
      async nextBatch(max) {
        const first = await take();
        if (!first || first === 'linger over') {
          return [];
        }
        // What arrives within the linger joins the batch: a few milliseconds buy writes of thousands of events
        // instead of one small transaction per delivery.
        const batch = [first];
        let timer: NodeJS.Timeout | undefined;
        const linger = new Promise<'linger over'>((resolve) => {
          timer = setTimeout(() => resolve('linger over'), WRITE_LINGER_MS);
        });
        try {
          while (batch.length < max) {
            const message = await take(linger);
            if (!message || message === 'linger over') {
              break;
            }
            batch.push(message);
          }
        } finally {
          clearTimeout(timer);
        }
        return batch;
      },
      close: async () => {
        this.sources.delete(messages);
        await messages.close();
      },
    };
  }

  /** Stops every source and closes the connection once what was published has been flushed. */
  async close(): Promise<void> {
    await Promise.all([...this.sources].map((messages) => messages.close()));
    await this.nc.drain();
  }
}

function wrap(message: JsMsg): QueuedMessage {
  return {
    data: message.data,
    ack: () => message.ack(),
    nak: () => message.nak(),
    working: () => message.working(),
  };
}

async function ensureStreamAndConsumer(jsm: JetStreamManager, settings: UsageIntakeSettings): Promise<void> {
  await idempotently(
    () => jsm.streams.info(settings.stream),
    () =>
      jsm.streams.add({
        name: settings.stream,
        subjects: [settings.subject],
        // Each event is kept until a writer has stored it in the database and acknowledged it.
        retention: RetentionPolicy.Workqueue,
        storage: StorageType.File,
        num_replicas: settings.replicas,
        duplicate_window: nanos(settings.duplicateWindowSeconds * 1000),
      }),
  );
  await idempotently(
    () => jsm.consumers.info(settings.stream, settings.consumer),
    () =>
      jsm.consumers.add(settings.stream, {
        durable_name: settings.consumer,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(ACK_WAIT_MS),
        max_ack_pending: MAX_ACK_PENDING,
        filter_subject: settings.subject,
      }),
  );
}

/** Finds a thing, else creates it; when another instance created it meanwhile, finds it again. */
async function idempotently(find: () => Promise<unknown>, create: () => Promise<unknown>): Promise<void> {
  try {
    await find();
    return;
  } catch {
    // Not there (or not reachable: then creating fails with the reason).
  }
  try {
    await create();
  } catch (error) {
    await find().catch(() => {
      throw error;
    });
  }
}

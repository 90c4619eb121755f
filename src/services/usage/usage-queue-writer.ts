import type { Clock } from '../../config/clock';
import type { Logger } from '../../config/logger';
import type { Database } from '../../entities/orm';
import type { Backoff } from '../../lib/backoff';
import { backoffDelayMs } from '../../lib/backoff';
import { usageDeadLetters, usageQueueWrites } from '../../lib/metrics';
import { storeQueuedUsage } from './record-usage.service';
import type { UsageEventData } from './record-usage.service';
import { insertDeadLetters } from './usage-dead-letters.repository';

/** One queued event as the writer takes it: acknowledged only once its write has committed. */
export interface QueuedMessage {
  readonly data: Uint8Array;
  ack(): void;
  /** Give it back to the queue now (the writer is stopping). */
  nak(): void;
  /** Still being worked on: the queue must not hand it to another writer yet. */
  working(): void;
}

/** The queue's side of the writer (src/queue): batches of what is waiting, shared by every instance's writer. */
export interface UsageQueueSource {
  /** Resolves with up to `max` waiting messages once there is at least one; an empty batch once closed. */
  nextBatch(max: number): Promise<QueuedMessage[]>;
  close(): Promise<void>;
}

/** What one write did: events stored, duplicates, dead letters; or the failure it will retry. */
export type UsageWriteOutcome =
  { ok: true; accepted: number; duplicates: number; deadLettered: number } | { ok: false; error: unknown };

/**
 * Writes the usage queue to the database in large batches, in every instance (`USAGE_INGEST=jetstream`): takes what
 * is waiting (up to `writeBatch`), writes it through `storeQueuedUsage` (the same COPY and insert as the direct
 * path), acknowledges after the commit. A write that fails is retried with backoff, holding its messages, until the
 * database answers again; only a batch the database refuses for its data (SQLSTATE classes 22 and 23) is split to
 * find the event at fault, which becomes a dead letter. A crash between commit and acknowledgement redelivers
 * events the unique key then drops.
 */
export class UsageQueueWriter {
  private running = false;
  private loop?: Promise<void>;
  private readonly stopping = new AbortController();
  private readonly listeners = new Set<(outcome: UsageWriteOutcome) => void>();

  constructor(
    private readonly db: Database,
    private readonly source: UsageQueueSource,
    private readonly options: { writeBatch: number; backoff: Backoff },
    private readonly log: Logger,
    private readonly clock: Clock,
  ) {}

  start(): void {
    if (this.running) {
      return;
    }
    this.running = true;
    this.loop = this.run();
  }

  /** Stops taking messages; a write in flight finishes (or, while retrying, gives its messages back). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    await this.source.close();
    await this.loop;
  }

  /** Calls `listener` after every write attempt; returns its removal. */
  onWrite(listener: (outcome: UsageWriteOutcome) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async run(): Promise<void> {
    while (this.running) {
      let batch: QueuedMessage[];
      try {
        batch = await this.source.nextBatch(this.options.writeBatch);
      } catch (error) {
        this.log.error({ err: error }, 'usage queue: reading the stream failed');
        await this.clock.sleep(backoffDelayMs(this.options.backoff, 0), { signal: this.stopping.signal });
        continue;
      }
      if (batch.length === 0) {
        break;
      }
      if (await this.write(batch)) {
        batch.forEach((m) => m.ack());
      } else {
        batch.forEach((m) => m.nak());
      }
    }
  }

  /** Writes `batch` until it is stored; false when the writer stopped first. */
  private async write(batch: QueuedMessage[]): Promise<boolean> {
    for (let retry = 0; this.running; retry += 1) {
      try {
        const events = batch.map(parse);
        const result = await storeQueuedUsage(this.db.orm.em.fork(), events, new Date(this.clock.now()));
        for (const rejection of result.deadLettered) {
          usageDeadLetters.inc({ code: rejection.code });
        }
        usageQueueWrites.inc({ outcome: 'stored' }, result.accepted);
        usageQueueWrites.inc({ outcome: 'duplicate' }, result.duplicates);
        this.emit({
          ok: true,
          accepted: result.accepted,
          duplicates: result.duplicates,
          deadLettered: result.deadLettered.length,
        });
        return true;
      } catch (error) {
        this.emit({ ok: false, error });
        if (refusedForItsData(error)) {
          return this.isolate(batch, error);
        }
        this.log.warn({ err: error, events: batch.length, retry }, 'usage queue: write failed; retrying');
        await this.clock.sleep(backoffDelayMs(this.options.backoff, retry), { signal: this.stopping.signal });
        batch.forEach((m) => m.working());
      }
    }
    return false;
  }

  /** Writes the halves of a batch the database refused for its data; a single event refused is a dead letter. */
  private async isolate(batch: QueuedMessage[], error: unknown): Promise<boolean> {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      return (await this.write(batch.slice(0, half))) && (await this.write(batch.slice(half)));
    }
    const payload = Buffer.from(batch[0].data).toString('utf8');
    const message = error instanceof Error ? error.message.slice(0, 500) : 'refused by the database';
    for (let retry = 0; this.running; retry += 1) {
      try {
        await this.db.orm.em
          .fork()
          .transactional((tem) =>
            insertDeadLetters(tem, [{ payload: JSON.stringify(payload), code: 'STORE_FAILED', message }]),
          );
        usageDeadLetters.inc({ code: 'STORE_FAILED' });
        this.emit({ ok: true, accepted: 0, duplicates: 0, deadLettered: 1 });
        return true;
      } catch (deadLetterError) {
        this.log.warn({ err: deadLetterError, retry }, 'usage queue: recording a dead letter failed; retrying');
        await this.clock.sleep(backoffDelayMs(this.options.backoff, retry), { signal: this.stopping.signal });
      }
    }
    return false;
  }

  private emit(outcome: UsageWriteOutcome): void {
    for (const listener of [...this.listeners]) {
      listener(outcome);
    }
  }
}

/** A queued event; what is not JSON reaches validation as `INVALID_EVENT` and becomes a dead letter. */
function parse(message: QueuedMessage): UsageEventData {
  try {
    return JSON.parse(Buffer.from(message.data).toString('utf8')) as UsageEventData;
  } catch {
    return null as unknown as UsageEventData;
  }
}

/** PostgreSQL refused the rows themselves (data exception, integrity violation): retrying the same rows cannot help. */
function refusedForItsData(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

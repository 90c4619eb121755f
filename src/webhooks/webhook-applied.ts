/**
 * Process-wide signal that a webhook worker of this process committed a batch: its events are now processed,
 * ignored, or recorded as failed (retry scheduled) in the database. For tests and in-process tools that wait for an
 * event's effect without polling the database. Workers in other processes are not heard here; their effects reach
 * other instances through the database (and status changes through LISTEN/NOTIFY).
 */
class BatchCommittedSignal {
  private readonly listeners = new Set<() => void>();

  /** Adds `listener`; returns its removal. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Called by the worker after a batch's transaction committed. A throwing listener does not stop the others. */
  emit(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch {
        // A listener's own failure is its own; the worker carries on.
      }
    }
  }
}

export const webhookBatchCommitted = new BatchCommittedSignal();

/**
 * How long the status listener waits before its `attempt`-th reconnect (0-based): 250 ms doubling to 30 s, with up
 * to 20 % jitter so that instances cut off by the same outage do not all reconnect in the same millisecond. A plain
 * function so that a shared backoff module can replace it (`StatusChangeHub`'s `backoff` option).
 */
export type Backoff = (attempt: number) => number;

export const reconnectBackoff: Backoff = (attempt) => {
  const base = Math.min(30_000, 250 * 2 ** Math.min(attempt, 7));
  return Math.round(base * (0.8 + Math.random() * 0.2));
};

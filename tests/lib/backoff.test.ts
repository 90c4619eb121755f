import { backoffDelayMs, withRetries } from '../../src/lib/backoff';
import { ManualClock } from '../helpers/clock';

describe('backoffDelayMs', () => {
  it('doubles from the base, retry 0 first', () => {
    expect([0, 1, 2, 3, 4].map((retry) => backoffDelayMs({ baseMs: 250 }, retry))).toEqual([
      250, 500, 1000, 2000, 4000,
    ]);
  });

  it('is capped, and never overflows however many retries', () => {
    const backoff = { baseMs: 1000, maxMs: 60_000 };
    expect([5, 6, 7].map((retry) => backoffDelayMs(backoff, retry))).toEqual([32_000, 60_000, 60_000]);
    expect(backoffDelayMs(backoff, 10_000)).toBe(60_000);
    expect(Number.isFinite(backoffDelayMs({ baseMs: 1 }, 10_000))).toBe(true);
    expect(backoffDelayMs({ baseMs: 1000 }, -1)).toBe(1000);
  });

  it('adds up to the jitter fraction of the wait', () => {
    expect(backoffDelayMs({ baseMs: 200, jitter: 0.5, random: () => 0 }, 1)).toBe(400);
    expect(backoffDelayMs({ baseMs: 200, jitter: 0.5, random: () => 0.5 }, 1)).toBe(500);
    expect(backoffDelayMs({ baseMs: 200, jitter: 0.5, random: () => 0.999 }, 1)).toBeLessThan(600);
  });
});

describe('withRetries', () => {
  const busy = new Error('busy');

  it('retries an accepted failure after each backoff on the clock, then succeeds', async () => {
    const clock = new ManualClock(0);
    const tries: number[] = [];
    const work = (): Promise<string> => {
      tries.push(clock.now());
      return tries.length < 3 ? Promise.reject(busy) : Promise.resolve('done');
    };
    const result = withRetries(work, { retries: 5, backoff: { baseMs: 100 }, retryOn: (e) => e === busy, clock });
    await clock.runUntilSettled(result);
    await expect(result).resolves.toBe('done');
    expect(tries).toEqual([0, 100, 300]);
  });

  it('gives up after the last retry, and throws other failures at once', async () => {
    const clock = new ManualClock(0);
    let calls = 0;
    const always = withRetries(
      () => {
        calls += 1;
        return Promise.reject(busy);
      },
      { retries: 2, backoff: { baseMs: 10 }, retryOn: (e) => e === busy, clock },
    );
    await expect(clock.runUntilSettled(always)).rejects.toBe(busy);
    expect(calls).toBe(3);

    const other = new Error('bad input');
    calls = 0;
    await expect(
      withRetries(
        () => {
          calls += 1;
          return Promise.reject(other);
        },
        { retries: 2, backoff: { baseMs: 10 }, retryOn: (e) => e === busy, clock },
      ),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });
});

import { RateLimiter, requestsPerSecondFor } from '../../src/stripe';

/** A fake clock: `sleep` resolves when the test advances time past the sleeper's deadline. */
function fakeClock() {
  let now = 0;
  const sleepers: Array<{ at: number; wake: () => void }> = [];
  return {
    now: () => now,
    sleep: (ms: number) => new Promise<void>((wake) => sleepers.push({ at: now + ms, wake })),
    advance(ms: number) {
      now += ms;
      for (const sleeper of sleepers.filter((s) => s.at <= now)) {
        sleepers.splice(sleepers.indexOf(sleeper), 1);
        sleeper.wake();
      }
    },
  };
}

/** Lets resolved promises run their continuations. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await Promise.resolve();
  }
};

describe('RateLimiter', () => {
  it('uses Stripe limits per mode', () => {
    expect(requestsPerSecondFor('live')).toBe(100);
    expect(requestsPerSecondFor('test')).toBe(25);
    expect(requestsPerSecondFor('emulator')).toBe(25);
  });

  it('lets a burst through at once, then spaces calls at the configured rate (fake clock)', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 10, burst: 3, now: clock.now, sleep: clock.sleep });
    const released: number[] = [];
    const calls = Array.from({ length: 8 }, () => limiter.acquire().then(() => released.push(clock.now())));
    await flush();
    expect(released).toEqual([0, 0, 0]);
    for (let t = 0; t < 600; t += 10) {
      clock.advance(10);
      await flush();
    }
    await Promise.all(calls);
    // 3 at once, then one every 100 ms, in call order.
    expect(released).toEqual([0, 0, 0, 100, 200, 300, 400, 500]);
  });

  it('refills while idle but never beyond the burst', async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ requestsPerSecond: 10, burst: 2, now: clock.now, sleep: clock.sleep });
    clock.advance(10_000);
    let released = 0;
    const calls = Array.from({ length: 3 }, () => limiter.acquire().then(() => released++));
    await flush();
    expect(released).toBe(2);
    clock.advance(100);
    await Promise.all(calls);
    expect(released).toBe(3);
  });

  it('keeps a real burst of 60 calls at or under the rate', async () => {
    const limiter = new RateLimiter({ requestsPerSecond: 200 });
    const start = Date.now();
    const times: number[] = [];
    await Promise.all(Array.from({ length: 60 }, () => limiter.acquire().then(() => times.push(Date.now()))));
    const elapsed = Date.now() - start;
    // 59 waits of 5 ms each; generous upper bound for a loaded machine.
    expect(elapsed).toBeGreaterThanOrEqual(59 * 5 - 20);
    expect(elapsed).toBeLessThan(3_000);
    // Spacing within short windows is asserted with the injected clock above: on a loaded machine real timers
    // fire late and in clumps, so only the total time (which slots guarantee) is asserted here.
    expect(times).toHaveLength(60);
  });

  it('rejects nonsense settings', () => {
    expect(() => new RateLimiter({ requestsPerSecond: 0 })).toThrow();
    expect(() => new RateLimiter({ requestsPerSecond: 10, burst: 0 })).toThrow();
  });
});

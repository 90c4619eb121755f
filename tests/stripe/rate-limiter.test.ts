import { RateLimiter, announcedRequestsPerSecond, requestsPerSecondFor } from '../../src/stripe';
import { ManualClock } from '../helpers/clock';

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
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ requestsPerSecond: 10, burst: 3, clock });
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

  it('says when its budget goes unused: a whole token there and nobody waiting for it (fake clock)', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ requestsPerSecond: 10, clock });
    expect(limiter.idle).toBe(true);
    const first = limiter.acquire();
    const second = limiter.acquire();
    // The token is taken and a caller holds the next one: the pace, not the callers, is the limit.
    expect(limiter.idle).toBe(false);
    clock.advance(100);
    await Promise.all([first, second]);
    expect(limiter.idle).toBe(false);
    // Nobody asked for the token that came since: budget unused.
    clock.advance(100);
    expect(limiter.idle).toBe(true);
  });

  it('refills while idle but never beyond the burst', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ requestsPerSecond: 10, burst: 2, clock });
    clock.advance(10_000);
    let released = 0;
    const calls = Array.from({ length: 3 }, () => limiter.acquire().then(() => released++));
    await flush();
    expect(released).toBe(2);
    clock.advance(100);
    await Promise.all(calls);
    expect(released).toBe(3);
  });

  it('spaces a burst of 60 concurrent calls exactly at the rate, in call order', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ requestsPerSecond: 200, clock });
    const times: number[] = [];
    // Time moves only while every caller waits: how fast the machine runs changes nothing.
    await clock.runUntilSettled(
      Promise.all(Array.from({ length: 60 }, () => limiter.acquire().then(() => times.push(clock.now())))),
    );
    expect(times).toEqual(Array.from({ length: 60 }, (_, i) => i * 5));
  });

  it('reads the limit a server announces in RateLimit-Policy', () => {
    expect(announcedRequestsPerSecond('25;w=1')).toBe(25);
    expect(announcedRequestsPerSecond(' 100 ; w=1')).toBe(100);
    expect(announcedRequestsPerSecond('600;w=60')).toBe(10);
    expect(announcedRequestsPerSecond('40')).toBe(40);
    expect(announcedRequestsPerSecond(['25;w=1'])).toBe(25);
    for (const nonsense of [undefined, null, '', 'abc;w=1', '0;w=1', '25;w=0', '-5;w=1']) {
      expect(announcedRequestsPerSecond(nonsense)).toBeNull();
    }
  });

  it('follows an announced limit at 95 %, never above its ceiling', () => {
    const free = new RateLimiter({ requestsPerSecond: 500 });
    free.follow(25);
    expect(free.requestsPerSecond).toBe(23.75);
    free.follow(100);
    expect(free.requestsPerSecond).toBe(95);
    const capped = new RateLimiter({ requestsPerSecond: 20, ceiling: 20 });
    capped.follow(100);
    expect(capped.requestsPerSecond).toBe(20);
    capped.follow(10);
    expect(capped.requestsPerSecond).toBe(9.5);
  });

  it('after a 429 sends nothing for a second at half the pace, then climbs back (fake clock)', async () => {
    const clock = new ManualClock(0);
    const limiter = new RateLimiter({ requestsPerSecond: 20, clock });
    await limiter.acquire();
    limiter.backOff();
    expect(limiter.requestsPerSecond).toBe(10);
    let released = false;
    const next = limiter.acquire().then(() => (released = true));
    clock.advance(999);
    await flush();
    expect(released).toBe(false);
    clock.advance(200);
    await next;
    // A quarter of the target (5/s) back per second: at 20 again two seconds after the pause.
    clock.advance(2000);
    await limiter.acquire();
    expect(limiter.requestsPerSecond).toBe(20);
    expect(limiter.state.backOffs).toBe(1);
  });

  it('rejects nonsense settings', () => {
    expect(() => new RateLimiter({ requestsPerSecond: 0 })).toThrow();
    expect(() => new RateLimiter({ requestsPerSecond: 10, burst: 0 })).toThrow();
  });
});

import { TokenBucket } from '../../src/lib/token-bucket';
import { ManualClock } from '../helpers/clock';

/** Lets resolved promises run their continuations. */
const flush = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    await Promise.resolve();
  }
};

describe('TokenBucket', () => {
  it('starts full, refuses when empty, and refills at the rate up to the capacity (tryTake)', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 3, clock });
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true, false]);
    expect(bucket.secondsUntilToken()).toBeCloseTo(0.1);
    clock.advance(50);
    expect(bucket.tryTake()).toBe(false);
    expect(bucket.secondsUntilToken()).toBeCloseTo(0.05);
    clock.advance(50);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.isFull()).toBe(false);
    clock.advance(10_000); // idle: back to the capacity, never beyond
    expect(bucket.isFull()).toBe(true);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([true, true, true, false]);
  });

  it('a refused tryTake takes nothing', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ ratePerSecond: 1, capacity: 1, clock });
    expect(bucket.tryTake()).toBe(true);
    for (let i = 0; i < 5; i++) {
      expect(bucket.tryTake()).toBe(false);
    }
    clock.advance(1000);
    expect(bucket.tryTake()).toBe(true);
  });

  it('reserve hands out slots in call order, going into debt, and says how long each waits', () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ ratePerSecond: 4, capacity: 2, clock });
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 250, 500]);
    clock.advance(500); // the debt is paid: the next one waits a full interval
    expect(bucket.reserve()).toBe(250);
  });

  it('take sleeps on the clock until the reserved slot', async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket({ ratePerSecond: 10, capacity: 1, clock });
    const released: number[] = [];
    const takes = Array.from({ length: 3 }, () => bucket.take().then(() => released.push(clock.now())));
    await flush();
    expect(released).toEqual([0]);
    clock.advance(100);
    await flush();
    expect(released).toEqual([0, 100]);
    clock.advance(100);
    await Promise.all(takes);
    expect(released).toEqual([0, 100, 200]);
  });

  it('refuses a rate or capacity that cannot work', () => {
    expect(() => new TokenBucket({ ratePerSecond: 0, capacity: 1 })).toThrow();
    expect(() => new TokenBucket({ ratePerSecond: Number.POSITIVE_INFINITY, capacity: 1 })).toThrow();
    expect(() => new TokenBucket({ ratePerSecond: 1, capacity: 0.5 })).toThrow();
  });
});

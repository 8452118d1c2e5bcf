import { describe, expect, it } from 'vitest';
import { createRateLimiter } from './token-bucket.ts';

describe('token bucket (fake clock)', () => {
  it('allows a burst, then refills at the rate and says when to retry', () => {
    let clock = 0;
    const limiter = createRateLimiter({ ratePerSecond: 2, burst: 3 }, () => clock);
    expect([1, 2, 3].map(() => limiter.take('alice').allowed)).toEqual([true, true, true]);
    expect(limiter.take('alice')).toEqual({ allowed: false, retryAfterMs: 500 });
    clock = 250;
    expect(limiter.take('alice')).toEqual({ allowed: false, retryAfterMs: 250 });
    clock = 500;
    expect(limiter.take('alice')).toMatchObject({ allowed: true });
    expect(limiter.take('alice').allowed).toBe(false);
  });

  it('keeps clients apart', () => {
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1 }, () => 0);
    expect(limiter.take('alice').allowed).toBe(true);
    expect(limiter.take('alice').allowed).toBe(false);
    expect(limiter.take('bob').allowed).toBe(true);
  });

  it('never stores more than the burst, however long a client was idle', () => {
    let clock = 0;
    const limiter = createRateLimiter({ ratePerSecond: 100, burst: 2, idleMs: 1e9 }, () => clock);
    limiter.take('alice');
    clock = 60_000;
    expect([1, 2, 3].map(() => limiter.take('alice').allowed)).toEqual([true, true, false]);
  });

  it('forgets idle clients so memory stays bounded', () => {
    let clock = 0;
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 1, idleMs: 1_000 }, () => clock);
    for (let i = 0; i < 100; i += 1) limiter.take(`client-${i}`);
    expect(limiter.size()).toBe(100);
    clock = 5_000;
    limiter.take('fresh');
    expect(limiter.size()).toBe(1);
  });

  it('takes a new rate and burst live: earned tokens kept up to the new burst, refilled at the new rate after', () => {
    let clock = 0;
    const limiter = createRateLimiter({ ratePerSecond: 1, burst: 10, idleMs: 1e9 }, () => clock);
    for (let i = 0; i < 10; i += 1) expect(limiter.take('alice').allowed).toBe(true);
    clock = 2_000; // two tokens earned at the old rate
    limiter.reconfigure({ ratePerSecond: 100, burst: 5 });
    expect([1, 2, 3].map(() => limiter.take('alice').allowed)).toEqual([true, true, false]);
    clock = 2_010; // one more at 100 a second
    expect(limiter.take('alice').allowed).toBe(true);
    clock = 60_000;
    expect(Array.from({ length: 6 }, () => limiter.take('alice').allowed)).toEqual([true, true, true, true, true, false]);
    // A smaller burst takes back what is above it; a new client starts with the new burst.
    limiter.reconfigure({ ratePerSecond: 100, burst: 1 });
    expect(limiter.take('bob').allowed).toBe(true);
    expect(limiter.take('bob').allowed).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { mulberry32 as seededRandom } from '../kit/random.ts';
import { backoffDelay, jitterSpread } from './backoff.ts';

const base = { baseMs: 100, capMs: 1_000 };

describe('backoffDelay', () => {
  it('grows exponentially and stops at the cap without jitter', () => {
    const delays = [1, 2, 3, 4, 5].map((retry) => backoffDelay({ ...base, jitter: 'none' }, retry, 0, () => 0.5));
    expect(delays).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('full jitter spans [0, exponential)', () => {
    expect(backoffDelay({ ...base, jitter: 'full' }, 3, 0, () => 0)).toBe(0);
    expect(backoffDelay({ ...base, jitter: 'full' }, 3, 0, () => 0.999)).toBeCloseTo(399.6);
  });

  it('equal jitter keeps at least half the exponential delay', () => {
    expect(backoffDelay({ ...base, jitter: 'equal' }, 2, 0, () => 0)).toBe(100);
    expect(backoffDelay({ ...base, jitter: 'equal' }, 2, 0, () => 1)).toBe(200);
  });

  it('decorrelated jitter stays within [base, 3 x previous] and the cap', () => {
    const random = seededRandom(7);
    let previous = 0;
    for (let retry = 1; retry <= 50; retry += 1) {
      const delay = backoffDelay({ ...base, jitter: 'decorrelated' }, retry, previous, random);
      expect(delay).toBeGreaterThanOrEqual(100);
      expect(delay).toBeLessThanOrEqual(Math.min(1_000, Math.max(100, (previous || 100) * 3)));
      previous = delay;
    }
  });
});

describe('jitterSpread', () => {
  it('is nothing without jitter, so callers told one moment all come back at it', () => {
    expect(jitterSpread({ ...base, jitter: 'none' }, 3, () => 0.9)).toBe(0);
  });

  it('is a random share of the capped exponential delay with full jitter, half of it with equal jitter', () => {
    expect(jitterSpread({ ...base, jitter: 'full' }, 3, () => 0.5)).toBe(200);
    expect(jitterSpread({ ...base, jitter: 'full' }, 9, () => 0.5)).toBe(500);
    expect(jitterSpread({ ...base, jitter: 'equal' }, 3, () => 0.5)).toBe(100);
  });

  it('spreads a crowd of callers evenly over the window (seeded)', () => {
    const random = seededRandom(7);
    const spreads = Array.from({ length: 1_000 }, () => jitterSpread({ ...base, jitter: 'full' }, 4, random));
    const buckets = [0, 0, 0, 0];
    for (const spread of spreads) buckets[Math.floor(spread / 200)] = (buckets[Math.floor(spread / 200)] ?? 0) + 1;
    for (const bucket of buckets) expect(bucket).toBeGreaterThan(200);
  });
});

import { describe, expect, it } from 'vitest';
import { mulberry32 as seededRandom } from '../kit/random.ts';
import { backoffDelay } from './backoff.ts';

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

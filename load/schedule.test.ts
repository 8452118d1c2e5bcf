import { describe, expect, it } from 'vitest';
import { arrivalCount, arrivalOffset, arrivalOffsets, LoadOptionsError } from './schedule.ts';

describe('arrivalOffsets (constant arrival rate)', () => {
  it('spaces rate iterations per time unit evenly from 0', () => {
    expect(arrivalOffsets({ rate: 10, timeUnitMs: 1_000, durationMs: 1_000 })).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('honours the time unit', () => {
    // 30 per minute = one every 2 s.
    expect(arrivalOffsets({ rate: 30, timeUnitMs: 60_000, durationMs: 10_000 })).toEqual([0, 2_000, 4_000, 6_000, 8_000]);
  });

  it('starts nothing at or after the end of the run', () => {
    expect(arrivalOffsets({ rate: 4, timeUnitMs: 1_000, durationMs: 1_000 })).toEqual([0, 250, 500, 750]);
    expect(arrivalOffsets({ rate: 4, timeUnitMs: 1_000, durationMs: 1_001 })).toEqual([0, 250, 500, 750, 1_000]);
    expect(arrivalOffsets({ rate: 10, timeUnitMs: 1_000, durationMs: 0 })).toEqual([]);
  });

  it('handles fractional rates and rates whose interval is not a whole number', () => {
    expect(arrivalOffsets({ rate: 0.5, timeUnitMs: 1_000, durationMs: 5_000 })).toEqual([0, 2_000, 4_000]);
    const thirds = arrivalOffsets({ rate: 3, timeUnitMs: 1_000, durationMs: 1_000 });
    expect(thirds).toHaveLength(3);
    expect(thirds[1]).toBeCloseTo(333.333, 3);
    expect(thirds[2]).toBeCloseTo(666.667, 3);
  });

  it('does not accumulate rounding error over a long schedule', () => {
    const spec = { rate: 7, timeUnitMs: 1_000, durationMs: 3_600_000 };
    expect(arrivalCount(spec)).toBe(25_200);
    expect(arrivalOffset(spec, 25_199)).toBeCloseTo(3_599_857.142857, 5);
    const offsets = arrivalOffsets(spec);
    expect(offsets.at(-1)).toBe(arrivalOffset(spec, 25_199));
    expect(offsets.every((offset, i) => i === 0 || offset > (offsets[i - 1] as number))).toBe(true);
  });

  it('counts exact products without an extra arrival', () => {
    expect(arrivalCount({ rate: 0.1, timeUnitMs: 1_000, durationMs: 30_000 })).toBe(3);
    expect(arrivalCount({ rate: 100, timeUnitMs: 1_000, durationMs: 4_000 })).toBe(400);
  });

  it('rejects bad specs and names every bad field', () => {
    let caught: unknown;
    try {
      arrivalOffsets({ rate: 0, timeUnitMs: -1, durationMs: Number.NaN });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LoadOptionsError);
    expect(caught).toMatchObject({ code: 'FL_BAD_LOAD_OPTIONS' });
    expect((caught as LoadOptionsError).problems).toEqual([
      'rate: must be a number > 0 (got 0)',
      'timeUnit: must be > 0 ms (got -1)',
      'duration: must be >= 0 ms (got NaN)',
    ]);
  });

  it('refuses to materialise an absurd schedule', () => {
    expect(() => arrivalOffsets({ rate: 1_000_000, timeUnitMs: 1_000, durationMs: 3_600_000 })).toThrow(/too many to list/);
  });
});

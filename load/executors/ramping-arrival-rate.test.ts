// The ramping schedule as pure maths, then the run on fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import type { IterationContext } from './constant-arrival-rate.ts';
import { expectedArrivals, rampingArrivalOffsets, rateAt, resolveRampingArrivalRateOptions, runRampingArrivalRate } from './ramping-arrival-rate.ts';

const EPOCH = 1_700_000_000_000;

function schedule(options: Parameters<typeof resolveRampingArrivalRateOptions>[0]) {
  return resolveRampingArrivalRateOptions(options).schedule;
}

describe('rampingArrivalOffsets (even)', () => {
  it('matches the constant-rate schedule when the rate does not move', () => {
    const s = schedule({ startRate: 10, stages: [{ target: 10, duration: '1s' }], preAllocatedVUs: 1 });
    expect(rampingArrivalOffsets(s).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it('places arrivals where the integral of a linear ramp reaches each integer', () => {
    // 0 -> 10/s over 2 s: n(t) = 2.5e-6 t^2, so arrival i is at sqrt(400000 i) ms.
    const s = schedule({ stages: [{ target: 10, duration: '2s' }], preAllocatedVUs: 1 });
    expect(expectedArrivals(s)).toBeCloseTo(10, 9);
    const offsets = rampingArrivalOffsets(s);
    expect(offsets).toHaveLength(10);
    offsets.forEach((offset, i) => expect(offset).toBeCloseTo(Math.sqrt(400_000 * i), 6));
    expect(rateAt(s, 1_000) * 1_000).toBeCloseTo(5, 9);
  });

  it('crosses stages, including a ramp down and a pause at rate 0', () => {
    const s = schedule({
      startRate: 10,
      timeUnit: '1s',
      stages: [
        { target: 10, duration: '1s' },
        { target: 0, duration: '1s' },
        { target: 0, duration: '1s' },
        { target: 20, duration: '500ms' },
      ],
      preAllocatedVUs: 1,
    });
    // 10 + 5 + 0 + 5 arrivals.
    const offsets = rampingArrivalOffsets(s);
    expect(offsets).toHaveLength(20);
    expect(offsets.filter((x) => x < 1_000)).toHaveLength(10);
    expect(offsets.filter((x) => x >= 1_000 && x < 2_000)).toHaveLength(5);
    expect(offsets.filter((x) => x >= 2_000 && x < 3_000)).toHaveLength(0);
    expect(offsets.filter((x) => x >= 3_000)).toHaveLength(5);
    // Down-ramp 10 -> 0: arrival 10 + k is where 10t - 5t^2 = k (t in s).
    expect(offsets[11]).toBeCloseTo(1_000 + 1_000 * (1 - Math.sqrt(1 - 0.2)), 6);
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
  });

  it('honours timeUnit', () => {
    const s = schedule({ startRate: 60, timeUnit: '1m', stages: [{ target: 60, duration: '5s' }], preAllocatedVUs: 1 });
    expect(rampingArrivalOffsets(s)).toEqual([0, 1_000, 2_000, 3_000, 4_000]);
  });
});

describe('rampingArrivalOffsets (poisson)', () => {
  const s = schedule({ startRate: 100, stages: [{ target: 100, duration: '20s' }], preAllocatedVUs: 1 });

  it('is reproducible for a seed, differs across seeds, stays inside the run', () => {
    const a = rampingArrivalOffsets(s, 'poisson', 7);
    expect(rampingArrivalOffsets(s, 'poisson', 7)).toEqual(a);
    expect(rampingArrivalOffsets(s, 'poisson', 8)).not.toEqual(a);
    expect([...a].sort((x, y) => x - y)).toEqual(a);
    expect(a[a.length - 1]).toBeLessThan(20_000);
    // 2000 expected; a Poisson count has sd ~45, so 5 sd either side.
    expect(a.length).toBeGreaterThan(1_775);
    expect(a.length).toBeLessThan(2_225);
  });

  it('has exponential gaps: mean and coefficient of variation near 1/rate and 1', () => {
    const a = rampingArrivalOffsets(s, 'poisson', 3);
    const gaps = a.slice(1).map((x, i) => x - a[i]!);
    const mean = gaps.reduce((sum, g) => sum + g, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((sum, g) => sum + (g - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeGreaterThan(9);
    expect(mean).toBeLessThan(11);
    expect(sd / mean).toBeGreaterThan(0.9);
    expect(sd / mean).toBeLessThan(1.1);
  });

  it('follows the ramp: more arrivals where the rate is higher', () => {
    const ramp = schedule({ stages: [{ target: 200, duration: '10s' }], preAllocatedVUs: 1 });
    const a = rampingArrivalOffsets(ramp, 'poisson', 11);
    const firstHalf = a.filter((x) => x < 5_000).length;
    const secondHalf = a.length - firstHalf;
    // Expected 250 and 750.
    expect(firstHalf).toBeGreaterThan(190);
    expect(firstHalf).toBeLessThan(310);
    expect(secondHalf).toBeGreaterThan(660);
    expect(secondHalf).toBeLessThan(840);
  });
});

describe('resolveRampingArrivalRateOptions', () => {
  it('reports every bad field', () => {
    let error: unknown;
    try {
      resolveRampingArrivalRateOptions({
        startRate: -1,
        stages: [{ target: Number.NaN, duration: 'soon' }, { target: 1, duration: 0 }],
        preAllocatedVUs: 5,
        maxVUs: 2,
        arrivals: 'bursty' as 'even',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LoadOptionsError);
    const problems = (error as LoadOptionsError).problems.join('\n');
    for (const field of ['startRate', 'stages.0.target', 'stages.0.duration', 'stages.1.duration', 'maxVUs', 'arrivals']) {
      expect(problems).toContain(`${field}:`);
    }
    expect(() => resolveRampingArrivalRateOptions({ stages: [], preAllocatedVUs: 1 })).toThrow(/stages: must be a non-empty array/);
  });
});

describe('runRampingArrivalRate (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: EPOCH });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts iterations at the ramp offsets and drops when all maxVUs are busy', async () => {
    const clock: Clock = { now: () => Date.now() - EPOCH, wallNow: () => Date.now() };
    const log: IterationContext[] = [];
    const dropped: number[] = [];
    // 0 -> 10/s over 2 s, each iteration holds its VU for 700 ms, at most 1 VU.
    const run = runRampingArrivalRate(
      { stages: [{ target: 10, duration: '2s' }], preAllocatedVUs: 1, maxVUs: 1 },
      (ctx) => {
        log.push(ctx);
        return new Promise((resolve) => setTimeout(resolve, 700));
      },
      { clock, onDropped: (d) => dropped.push(d.iteration) },
    );
    await vi.advanceTimersByTimeAsync(4_000);
    const result = await run;
    // Offsets 0, 632, 894, 1095, 1265, 1414, 1549, 1673, 1789, 1897.
    // The VU is free again at 700 ms (arrival 2) and at 1594 ms (arrival 7); the rest find it busy.
    expect(log.map((ctx) => ctx.iteration)).toEqual([0, 2, 7]);
    expect(log.map((ctx) => Math.round(ctx.intendedStartMs - EPOCH))).toEqual([0, 894, 1673]);
    expect(dropped).toEqual([1, 3, 4, 5, 6, 8, 9]);
    expect(result).toMatchObject({ planned: 10, scheduled: 10, started: 3, dropped: 7, completed: 3, interrupted: 0, aborted: false });
  });
});

// The phased schedule as pure maths, and one short run on fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import { phasedArrivalPlan, runPhasedArrivalRate } from './phased-arrival-rate.ts';

const EPOCH = 1_700_000_000_000;

describe('phasedArrivalPlan', () => {
  it('lays constant-rate segments end to end, each evenly spaced from its own start', () => {
    const plan = phasedArrivalPlan([
      { durationMs: 2_000, rate: 1 },
      { durationMs: 1_000, rate: 10 },
      { durationMs: 2_000, rate: 1 },
    ]);
    expect(plan.planned).toBe(2 + 10 + 2);
    expect(plan.durationMs).toBe(5_000);
    const offsets = Array.from({ length: plan.planned }, (_, i) => plan.offset(i));
    expect(offsets).toEqual([0, 1_000, 2_000, 2_100, 2_200, 2_300, 2_400, 2_500, 2_600, 2_700, 2_800, 2_900, 3_000, 4_000]);
  });

  it('a segment at rate 0 sends nothing, and the offsets can be asked again from the start', () => {
    const plan = phasedArrivalPlan([{ durationMs: 1_000, rate: 0 }, { durationMs: 1_000, rate: 2 }], 1_000);
    expect(plan.planned).toBe(2);
    expect([plan.offset(0), plan.offset(1), plan.offset(0)]).toEqual([1_000, 1_500, 1_000]);
  });

  it('rejects a negative rate or duration, naming each', () => {
    expect(() => phasedArrivalPlan([{ durationMs: -1, rate: 1 }, { durationMs: 1, rate: -2 }])).toThrow(LoadOptionsError);
    try {
      phasedArrivalPlan([{ durationMs: -1, rate: 1 }, { durationMs: 1, rate: -2 }]);
    } catch (error) {
      expect((error as LoadOptionsError).problems).toEqual(['segments.0.durationMs: must be >= 0 (got -1)', 'segments.1.rate: must be a number >= 0 (got -2)']);
    }
  });
});

describe('runPhasedArrivalRate (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: EPOCH });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts each arrival at its segment\'s rate', async () => {
    const clock: Clock = { now: () => Date.now() - EPOCH, wallNow: () => Date.now() };
    const starts: number[] = [];
    const run = runPhasedArrivalRate(
      { segments: [{ durationMs: 1_000, rate: 2 }, { durationMs: 500, rate: 10 }], preAllocatedVUs: 2, maxVUs: 4 },
      async () => {
        starts.push(clock.now());
      },
      { clock },
    );
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await run;
    expect(starts).toEqual([0, 500, 1_000, 1_100, 1_200, 1_300, 1_400]);
    expect(result).toMatchObject({ planned: 7, started: 7, dropped: 0 });
  });

  it('rejects maxVUs below preAllocatedVUs', async () => {
    await expect(runPhasedArrivalRate({ segments: [{ durationMs: 1, rate: 1 }], preAllocatedVUs: 3, maxVUs: 2 }, async () => undefined)).rejects.toThrow(/maxVUs/);
  });
});

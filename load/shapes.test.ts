// Shapes are data: check durations add up, levels, and that each shape has
// the feature it is named for.
import { describe, expect, it } from 'vitest';
import { expectedArrivals, rateAt, resolveRampingArrivalRateOptions } from './executors/ramping-arrival-rate.ts';
import { LoadOptionsError } from './schedule.ts';
import { average, bursts, diurnal, diurnalLevel, SHAPE_NAMES, shapeStages, smoke, spike, stress } from './shapes.ts';
import type { ShapeStages } from './shapes.ts';

const total = (shape: ShapeStages) => shape.stages.reduce((sum, stage) => sum + stage.duration, 0);
const schedule = (shape: ShapeStages) => resolveRampingArrivalRateOptions({ ...shape, preAllocatedVUs: 1 }).schedule;
/** Rate per second at `ms`. */
const rate = (shape: ShapeStages, ms: number) => rateAt(schedule(shape), ms) * 1_000;

describe('shapes', () => {
  it.each(SHAPE_NAMES)('%s: integer durations that add up to the total, rates within [0, peak], accepted by ramping-arrival-rate', (name) => {
    for (const duration of [1_000, 60_000, 3_600_007]) {
      const shape = shapeStages(name, 50, duration);
      expect(total(shape)).toBe(duration);
      for (const stage of shape.stages) {
        expect(Number.isInteger(stage.duration) && stage.duration > 0).toBe(true);
        expect(stage.target).toBeGreaterThanOrEqual(0);
        expect(stage.target).toBeLessThanOrEqual(50 + 1e-9);
      }
      expect(() => schedule(shape)).not.toThrow();
      expect(Math.max(shape.startRate, ...shape.stages.map((stage) => stage.target))).toBeCloseTo(name === 'smoke' ? 1 : 50, 9);
    }
  });

  it('smoke stays at 1/s, or the peak when that is lower', () => {
    expect(smoke(100, 10_000)).toEqual({ startRate: 1, stages: [{ target: 1, duration: 10_000 }] });
    expect(smoke(0.5, 10_000).startRate).toBe(0.5);
  });

  it('average: 0 -> peak in 10 %, hold, down in the last 10 %; 90 % of peak x duration arrivals', () => {
    const shape = average(20, 100_000);
    expect(shape).toEqual({ startRate: 0, stages: [{ target: 20, duration: 10_000 }, { target: 20, duration: 80_000 }, { target: 0, duration: 10_000 }] });
    expect(expectedArrivals(schedule(shape))).toBeCloseTo(1_800, 6);
  });

  it('stress climbs in stairs', () => {
    const shape = stress(100, 100_000);
    expect([rate(shape, 20_000), rate(shape, 50_000), rate(shape, 80_000)].map(Math.round)).toEqual([50, 75, 100]);
  });

  it('spike: baseline 10 %, the peak only in the middle', () => {
    const shape = spike(100, 100_000);
    expect(rate(shape, 20_000)).toBeCloseTo(10, 6);
    expect(rate(shape, 50_000)).toBeCloseTo(100, 6);
    expect(rate(shape, 80_000)).toBeCloseTo(10, 6);
  });

  it('diurnal follows the smoothed day: night trough, noon peak, symmetric', () => {
    const shape = diurnal(100, 24_000);
    expect(shape.stages).toHaveLength(24);
    expect(shape.startRate).toBeCloseTo(20, 6);
    expect(rate(shape, 12_000)).toBeCloseTo(100, 6);
    expect(rate(shape, 6_000)).toBeCloseTo(60, 6);
    expect(rate(shape, 3_000)).toBeCloseTo(rate(shape, 21_000), 6);
    expect(diurnalLevel(0.5)).toBe(1);
    // Linear segments stay within 1 % of the curve between the hours.
    for (let ms = 0; ms < 24_000; ms += 250) expect(Math.abs(rate(shape, ms) - 100 * diurnalLevel(ms / 24_000))).toBeLessThan(1);
  });

  it('bursts: four separate excursions to the peak over a 20 % baseline', () => {
    const shape = bursts(100, 100_000);
    let excursions = 0;
    let high = false;
    for (let ms = 0; ms < 100_000; ms += 100) {
      const now = rate(shape, ms) > 90;
      if (now && !high) excursions += 1;
      high = now;
    }
    expect(excursions).toBe(4);
    expect(rate(shape, 1_000)).toBeCloseTo(20, 6);
  });

  it('rejects bad input naming the field', () => {
    expect(() => shapeStages('wave', 10, 10_000)).toThrow(/shape: unknown shape 'wave' \(known: smoke, average/);
    try {
      average(-1, 10);
    } catch (error) {
      expect(error).toBeInstanceOf(LoadOptionsError);
      expect((error as LoadOptionsError).problems).toHaveLength(2);
    }
    expect(() => average(-1, 10)).toThrow(/peakRate: .*duration: /);
  });
});

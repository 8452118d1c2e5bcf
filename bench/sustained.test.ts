import { describe, expect, it } from 'vitest';
import { judgeStep, p99BoundMs } from './sustained.ts';
import type { StepMeasure } from './sustained.ts';

/**
 * The rule bench/load-generator.ts used before issue 19: under 1 % dropped, no
 * failure, and completions (graceful stop included) per second of schedule at
 * least 97 % of the rate; no latency. Kept here to show each case below is one
 * the old rule let through.
 */
function oldRule(step: StepMeasure & { completedWithGrace: number; seconds: number }): boolean {
  return step.dropped / step.scheduled < 0.01 && step.failed === 0 && step.completedWithGrace / step.seconds >= 0.97 * step.rate;
}

// 20,000/s for 3 s over 64 connections, after a round whose low-rate baseline p99 was 0.8 ms: bound 0.8 + 3.2 ms.
const bound = p99BoundMs(0.8, 64, 20_000);
const held = { rate: 20_000, seconds: 3, scheduled: 60_000, dropped: 0, failed: 0, completedInWindow: 60_000, completedWithGrace: 60_000, p99Ms: 2.5 };

describe('p99BoundMs', () => {
  it('is the baseline p99 plus one turn of the connection pool at the rate', () => {
    expect(bound).toBeCloseTo(4, 9);
    expect(p99BoundMs(1, 64, 2_000)).toBeCloseTo(33, 9);
  });

  it('names the bad argument', () => {
    expect(() => p99BoundMs(Number.NaN, 64, 1_000)).toThrow(/baselineP99Ms: must be a number >= 0/);
    expect(() => p99BoundMs(1, 0, 1_000)).toThrow(/connections: must be an integer >= 1/);
    expect(() => p99BoundMs(1, 64, 0)).toThrow(/rate: must be a number > 0/);
  });
});

describe('judgeStep', () => {
  it('holds a step that kept up: nothing dropped or failed, all within the step, p99 within the bound', () => {
    expect(judgeStep(held, bound)).toEqual({ sustained: true, reasons: [] });
    expect(oldRule(held)).toBe(true);
  });

  it('allows exactly 1 % dropped, and 1 % not completed within the step', () => {
    const step = { ...held, dropped: 600, completedInWindow: 59_400 };
    expect(judgeStep(step, bound).sustained).toBe(true);
  });

  it('fails a step whose completions came in the grace period after it (the old rule passed it)', () => {
    // 0.6 % dropped and 0.6 % finishing after the window: 98.8 % within the step; the tail is small enough that p99 stays in bound.
    const step = { ...held, dropped: 360, completedInWindow: 59_280, completedWithGrace: 59_640 };
    expect(oldRule(step)).toBe(true);
    expect(judgeStep(step, bound)).toEqual({ sustained: false, reasons: ['completed within the step 98.8 % < 99.0 %'] });
  });

  it('fails a step that fell 3 % behind and caught up in the grace period (the old rule passed it)', () => {
    // What the issue measured: about 97 % of the rate within the step, the rest late, honest p50 23-40 ms.
    const step = { ...held, completedInWindow: 58_200, completedWithGrace: 60_000, p99Ms: 61 };
    expect(oldRule(step)).toBe(true);
    const judged = judgeStep(step, bound);
    expect(judged.sustained).toBe(false);
    expect(judged.reasons).toEqual(['completed within the step 97.0 % < 99.0 %', 'p99 61.00 ms > bound 4.00 ms']);
  });

  it('fails a step whose p99 is beyond the bound though every request completed in time (the old rule passed it)', () => {
    const step = { ...held, p99Ms: 4.01 };
    expect(oldRule(step)).toBe(true);
    expect(judgeStep(step, bound)).toEqual({ sustained: false, reasons: ['p99 4.01 ms > bound 4.00 ms'] });
  });

  it('fails a step with more than 1 % dropped (the old rule failed it too)', () => {
    // 1.2 % dropped, everything started delivered in time: a drop that large also leaves less than 99 % within the step.
    const step = { ...held, dropped: 720, completedInWindow: 59_280, completedWithGrace: 59_280 };
    expect(judgeStep(step, bound)).toEqual({ sustained: false, reasons: ['dropped 1.2 % > 1.0 %', 'completed within the step 98.8 % < 99.0 %'] });
    expect(oldRule(step)).toBe(false);
  });

  it('fails a step with a failed request, and one that scheduled nothing', () => {
    expect(judgeStep({ ...held, failed: 1, completedInWindow: 59_999 }, bound)).toEqual({ sustained: false, reasons: ['1 failed'] });
    expect(judgeStep({ ...held, scheduled: 0, completedInWindow: 0 }, bound)).toEqual({ sustained: false, reasons: ['nothing scheduled'] });
  });

  it('leaves latency unjudged with an infinite bound (the baseline step itself)', () => {
    expect(judgeStep({ ...held, p99Ms: 900 }, Number.POSITIVE_INFINITY)).toEqual({ sustained: true, reasons: [] });
  });

  it('names the bad field', () => {
    expect(() => judgeStep({ ...held }, -1)).toThrow(/boundMs: must be a number >= 0/);
    expect(() => judgeStep({ ...held, dropped: -1 }, bound)).toThrow(/dropped: must be an integer >= 0 \(got -1\)/);
    expect(() => judgeStep({ ...held, p99Ms: Number.NaN }, bound)).toThrow(/p99Ms: must be a number >= 0/);
    expect(() => judgeStep({ ...held, dropped: 1 }, bound)).toThrow(/dropped \+ failed \+ completedInWindow: must be <= scheduled \(1 \+ 0 \+ 60000 > 60000\)/);
  });
});

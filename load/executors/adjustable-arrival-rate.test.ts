// The adjustable schedule on fake timers: arrivals follow each change of rate
// from the moment it is made, 0 pauses, drops are counted, the run stops on
// abort or at its duration.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import { adjustableArrivalPlan, createAdjustableRate, resolveAdjustableArrivalRateOptions, runAdjustableArrivalRate } from './adjustable-arrival-rate.ts';
import type { DroppedIteration, IterationContext } from './constant-arrival-rate.ts';

const EPOCH = 1_700_000_000_000;
const clock: Clock = { now: () => Date.now() - EPOCH, wallNow: () => Date.now() };

/** An iteration that holds its VU for `ms` of fake time and logs when it started. */
function sleeper(ms: number, log: Array<{ at: number; ctx: IterationContext }>) {
  return (ctx: IterationContext): Promise<void> => {
    log.push({ at: clock.now(), ctx });
    return new Promise((resolve) => setTimeout(resolve, ms));
  };
}

const within = (log: Array<{ at: number }>, from: number, to: number): number => log.filter((entry) => entry.at >= from && entry.at < to).length;

beforeEach(() => {
  vi.useFakeTimers({ now: EPOCH });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runAdjustableArrivalRate (fake timers)', () => {
  it('follows a change of rate without a restart: 10/s for 1 s, then 50/s', async () => {
    const rate = createAdjustableRate(10);
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const abort = new AbortController();
    const run = runAdjustableArrivalRate({ rate, preAllocatedVUs: 5, maxVUs: 20 }, sleeper(10, log), { clock, signal: abort.signal });
    await vi.advanceTimersByTimeAsync(1_000);
    rate.set(50);
    await vi.advanceTimersByTimeAsync(1_000);
    rate.set(10);
    await vi.advanceTimersByTimeAsync(1_000);
    abort.abort();
    const result = await run;
    expect(within(log, 0, 1_000)).toBe(10);
    expect(within(log, 1_000, 2_000)).toBe(50);
    expect(within(log, 2_000, 3_000)).toBe(10);
    // Started on time, each with its intended start; iteration numbers run on across the changes.
    expect(log.map((entry) => entry.ctx.intendedStartMs - EPOCH)).toEqual(log.map((entry) => entry.at));
    expect(log.map((entry) => entry.ctx.iteration)).toEqual(log.map((_, i) => i));
    expect(log.slice(9, 13).map((entry) => entry.at)).toEqual([900, 1_000, 1_020, 1_040]);
    expect(result).toMatchObject({ planned: 71, scheduled: 71, started: 71, dropped: 0, aborted: true });
  });

  it('schedules the next arrival from the new rate at the moment of change, keeping the part of the interval already waited', async () => {
    const rate = createAdjustableRate(1);
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const abort = new AbortController();
    const run = runAdjustableArrivalRate({ rate, preAllocatedVUs: 2 }, sleeper(1, log), { clock, signal: abort.signal });
    await vi.advanceTimersByTimeAsync(500);
    // Half of the 1 s interval has passed: at 10/s the other half is 50 ms.
    rate.set(10);
    await vi.advanceTimersByTimeAsync(300);
    expect(log.map((entry) => entry.at)).toEqual([0, 550, 650, 750]);
    // 50 ms into a 100 ms interval: at 1/s the other half is 500 ms.
    rate.set(1);
    await vi.advanceTimersByTimeAsync(1_000);
    abort.abort();
    await run;
    expect(log.map((entry) => entry.at)).toEqual([0, 550, 650, 750, 1_300]);
  });

  it('pauses at rate 0 (VUs stay allocated) and resumes where the schedule was', async () => {
    const rate = createAdjustableRate(0);
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const ticks: number[] = [];
    const abort = new AbortController();
    const run = runAdjustableArrivalRate({ rate, preAllocatedVUs: 1, maxVUs: 10 }, sleeper(150, log), {
      clock,
      signal: abort.signal,
      tickIntervalMs: 500,
      onTick: (snapshot) => ticks.push(snapshot.allocatedVUs),
    });
    await vi.advanceTimersByTimeAsync(2_000);
    expect(log).toHaveLength(0);
    rate.set(10);
    await vi.advanceTimersByTimeAsync(1_050);
    expect(within(log, 2_000, 3_050)).toBe(11);
    expect(log[0]?.at).toBe(2_000);
    rate.set(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(log).toHaveLength(11);
    expect(ticks.at(-1)).toBe(2);
    // Half an interval had passed when it paused: the next arrival is 50 ms after the resume.
    rate.set(10);
    await vi.advanceTimersByTimeAsync(60);
    expect(log.at(-1)?.at).toBe(123_100);
    abort.abort();
    expect(await run).toMatchObject({ started: 12, dropped: 0, maxAllocatedVUs: 2, aborted: true });
  });

  it('drops iterations that find all maxVUs busy, through onDropped, and counts them', async () => {
    const rate = createAdjustableRate(10);
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const dropped: DroppedIteration[] = [];
    const run = runAdjustableArrivalRate({ rate, duration: '1s', preAllocatedVUs: 1, maxVUs: 2 }, sleeper(450, log), {
      clock,
      onDropped: (d) => dropped.push(d),
    });
    await vi.advanceTimersByTimeAsync(500);
    rate.set(20);
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await run;
    // 0..400 at 10/s (VUs busy from 200), then 500..950 at 20/s.
    expect(log.map((entry) => [entry.at, entry.ctx.vu])).toEqual([
      [0, 1],
      [100, 2],
      [500, 1],
      [550, 2],
      [950, 1],
    ]);
    expect(dropped.map((d) => d.intendedStartMs - EPOCH)).toEqual([200, 300, 400, 600, 650, 700, 750, 800, 850, 900]);
    expect(result).toMatchObject({ planned: 15, scheduled: 15, started: 5, dropped: 10, completed: 5, interrupted: 0, aborted: false, maxAllocatedVUs: 2 });
    // The duration ended the run: a change now reaches nothing.
    expect(() => rate.set(100)).not.toThrow();
  });

  it('catches up late arrivals with their intended starts when the timer fires late', async () => {
    const skewed = { skew: 0, now: () => Date.now() - EPOCH + skewed.skew, wallNow: () => Date.now() + skewed.skew };
    const rate = createAdjustableRate(10);
    const log: IterationContext[] = [];
    const abort = new AbortController();
    const run = runAdjustableArrivalRate(
      { rate, preAllocatedVUs: 10 },
      (ctx) => {
        log.push(ctx);
        return Promise.resolve();
      },
      { clock: skewed, signal: abort.signal },
    );
    await vi.advanceTimersByTimeAsync(50);
    skewed.skew = 300; // the loop was blocked for 300 ms
    rate.set(20);
    await vi.advanceTimersByTimeAsync(10);
    expect(log.map((ctx) => ctx.intendedStartMs - EPOCH)).toEqual([0, 100, 200, 300]);
    await vi.advanceTimersByTimeAsync(100);
    abort.abort();
    await run;
    // Count 3.5 at the change (350 ms): arrival 4 is half a 50 ms interval later.
    expect(log.slice(4).map((ctx) => ctx.intendedStartMs - EPOCH)).toEqual([375, 425]);
  });

  it('stops following the rate when the run ends', async () => {
    const rate = createAdjustableRate(5);
    const abort = new AbortController();
    let listeners = 0;
    const counted = {
      ...rate,
      onChange(listener: (r: number) => void) {
        listeners += 1;
        const off = rate.onChange(listener);
        return () => {
          listeners -= 1;
          off();
        };
      },
    };
    const run = runAdjustableArrivalRate({ rate: counted, preAllocatedVUs: 1 }, () => Promise.resolve(), { clock, signal: abort.signal });
    expect(listeners).toBe(1);
    abort.abort();
    await run;
    expect(listeners).toBe(0);
  });
});

describe('adjustableArrivalPlan', () => {
  it('lays out arrivals at the rate it holds, and nothing at 0', () => {
    const plan = adjustableArrivalPlan(createAdjustableRate(4), 1_000, 1_000);
    expect([0, 1, 2, 3, 4].map((i) => plan.offset(i))).toEqual([0, 250, 500, 750, Infinity]);
    expect(adjustableArrivalPlan(createAdjustableRate(0)).offset(0)).toBe(Infinity);
    expect(adjustableArrivalPlan(createAdjustableRate(30), 60_000).offset(2)).toBe(4_000);
  });
});

describe('validation', () => {
  it('rejects a bad rate, naming it, and keeps the old one', () => {
    expect(() => createAdjustableRate(-1)).toThrow(LoadOptionsError);
    const rate = createAdjustableRate(3);
    for (const bad of [-0.5, Number.NaN, Number.POSITIVE_INFINITY, '7' as unknown as number]) {
      expect(() => rate.set(bad)).toThrow(/^invalid load options: rate: must be a finite number >= 0/);
    }
    expect(rate.get()).toBe(3);
  });

  it('reports every bad option at once', () => {
    let error: unknown;
    try {
      resolveAdjustableArrivalRateOptions({ rate: {} as never, timeUnit: 0, duration: 'soon', preAllocatedVUs: 4, maxVUs: 2 });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(LoadOptionsError);
    const problems = (error as LoadOptionsError).problems.join('\n');
    for (const field of ['rate', 'timeUnit', 'duration', 'maxVUs']) expect(problems).toContain(`${field}:`);
    expect(resolveAdjustableArrivalRateOptions({ rate: createAdjustableRate(), preAllocatedVUs: 2 })).toMatchObject({ durationMs: Infinity, maxVUs: 2, timeUnitMs: 1_000 });
  });
});

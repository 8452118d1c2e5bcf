// Schedule logic on fake timers: what starts when, what is dropped, how the
// run stops. Real sockets are in constant-arrival-rate.http.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import { RunStoppedError, runConstantArrivalRate } from './constant-arrival-rate.ts';
import type { DroppedIteration, ExecutorSnapshot, IterationContext } from './constant-arrival-rate.ts';

const EPOCH = 1_700_000_000_000;

/** A clock on fake time; `skew` simulates time passing while the event loop is blocked. */
function fakeClock(): Clock & { skew: number } {
  const clock = {
    skew: 0,
    now: () => Date.now() - EPOCH + clock.skew,
    wallNow: () => Date.now() + clock.skew,
  };
  return clock;
}

/** An iteration that takes `ms` of (fake) time and logs when it started. */
function sleeper(ms: number, log: Array<{ at: number; ctx: IterationContext }>, clock: Clock) {
  return (ctx: IterationContext): Promise<void> => {
    log.push({ at: clock.now(), ctx });
    return new Promise((resolve) => setTimeout(resolve, ms));
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: EPOCH });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('runConstantArrivalRate (fake timers)', () => {
  it('starts each iteration at its scheduled time without awaiting the previous one', async () => {
    const clock = fakeClock();
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    // Each iteration takes 250 ms, 2.5 times the arrival interval: a closed loop would fall behind.
    const run = runConstantArrivalRate({ rate: 10, duration: '1s', preAllocatedVUs: 5 }, sleeper(250, log, clock), { clock });
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await run;
    expect(log.map((entry) => entry.at)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    expect(log.map((entry) => entry.ctx.iteration)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(log.map((entry) => entry.ctx.intendedStartMs)).toEqual(log.map((_, i) => EPOCH + i * 100));
    // Idle VUs are handed out first in, first out (as k6 does): iterations rotate
    // over the five pre-allocated VUs, although at most 3 are in flight at once.
    expect(log.slice(0, 5).map((entry) => entry.ctx.vu)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(log.map((entry) => entry.ctx.vu))).toEqual(new Set([1, 2, 3, 4, 5]));
    expect(result).toMatchObject({ planned: 10, scheduled: 10, started: 10, completed: 10, failed: 0, dropped: 0, interrupted: 0, aborted: false });
    // Ends when the schedule ends (1 s) and the last iteration (started at 900 ms) finishes at 1150 ms.
    expect(result.durationMs).toBe(1_150);
  });

  it('honours timeUnit', async () => {
    const clock = fakeClock();
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runConstantArrivalRate({ rate: 30, timeUnit: '1m', duration: '10s', preAllocatedVUs: 1 }, sleeper(10, log, clock), { clock });
    await vi.advanceTimersByTimeAsync(11_000);
    expect((await run).started).toBe(5);
    expect(log.map((entry) => entry.at)).toEqual([0, 2_000, 4_000, 6_000, 8_000]);
  });

  it('drops iterations that find all maxVUs busy instead of queuing them', async () => {
    const clock = fakeClock();
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const dropped: DroppedIteration[] = [];
    const run = runConstantArrivalRate(
      { rate: 10, duration: '1s', preAllocatedVUs: 1, maxVUs: 2 },
      sleeper(450, log, clock),
      { clock, onDropped: (d) => dropped.push(d) },
    );
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await run;
    // VU 1 at 0 ms, VU 2 (allocated on demand) at 100 ms; both busy until 450/550 ms; they take 500 and 600, then 900.
    expect(log.map((entry) => [entry.at, entry.ctx.vu])).toEqual([
      [0, 1],
      [100, 2],
      [500, 1],
      [600, 2],
    ]);
    expect(dropped.map((d) => d.iteration)).toEqual([2, 3, 4, 7, 8, 9]);
    expect(dropped.map((d) => d.intendedStartMs)).toEqual([2, 3, 4, 7, 8, 9].map((i) => EPOCH + i * 100));
    expect(result).toMatchObject({ scheduled: 10, started: 4, dropped: 6, completed: 4, maxAllocatedVUs: 2 });
  });

  it('catches up after a blocked event loop, each late iteration keeping its own intended start', async () => {
    const clock = fakeClock();
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runConstantArrivalRate({ rate: 10, duration: '1s', preAllocatedVUs: 10 }, sleeper(1, log, clock), { clock });
    await vi.advanceTimersByTimeAsync(50);
    clock.skew = 400; // the loop was blocked for 400 ms
    await vi.advanceTimersByTimeAsync(50);
    expect(log.map((entry) => entry.at)).toEqual([0, 500, 500, 500, 500, 500]);
    expect(log.map((entry) => entry.ctx.intendedStartMs - EPOCH)).toEqual([0, 100, 200, 300, 400, 500]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect((await run).started).toBe(10);
    expect(log.slice(6).map((entry) => entry.at)).toEqual([600, 700, 800, 900]);
  });

  it('counts iterations that throw or reject and keeps going', async () => {
    const clock = fakeClock();
    const errors: unknown[] = [];
    const run = runConstantArrivalRate(
      { rate: 10, duration: '500ms', preAllocatedVUs: 2 },
      (ctx) => {
        if (ctx.iteration === 1) throw new Error('sync boom');
        if (ctx.iteration === 3) return Promise.reject(new Error('async boom'));
        return Promise.resolve();
      },
      { clock, onIterationError: (error) => errors.push((error as Error).message) },
    );
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await run).toMatchObject({ started: 5, completed: 5, failed: 2, dropped: 0 });
    expect(errors).toEqual(['sync boom', 'async boom']);
  });

  it('stops at once on abort and aborts the iterations in flight', async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const run = runConstantArrivalRate(
      { rate: 10, duration: '10s', preAllocatedVUs: 50 },
      (ctx) => {
        signals.push(ctx.signal);
        return new Promise(() => {});
      },
      { clock, signal: controller.signal },
    );
    await vi.advanceTimersByTimeAsync(350);
    controller.abort();
    const result = await run;
    expect(result).toMatchObject({ aborted: true, planned: 100, scheduled: 4, started: 4, completed: 0, interrupted: 4, durationMs: 350 });
    expect(signals).toHaveLength(4);
    expect(signals.every((signal) => signal.aborted && signal.reason instanceof RunStoppedError)).toBe(true);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signals).toHaveLength(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('resolves without starting anything when the signal is already aborted', async () => {
    const iteration = vi.fn(() => Promise.resolve());
    const result = await runConstantArrivalRate({ rate: 10, duration: '1s', preAllocatedVUs: 1 }, iteration, {
      clock: fakeClock(),
      signal: AbortSignal.abort(),
    });
    expect(result).toMatchObject({ aborted: true, started: 0, scheduled: 0 });
    expect(iteration).not.toHaveBeenCalled();
  });

  it('waits for in-flight iterations up to gracefulStop, then interrupts them', async () => {
    const clock = fakeClock();
    const signals: AbortSignal[] = [];
    const run = runConstantArrivalRate(
      { rate: 2, duration: '1s', preAllocatedVUs: 2, gracefulStop: '2s' },
      (ctx) => {
        signals.push(ctx.signal);
        // The first never ends; the second ends after 1.8 s (within the grace period).
        return ctx.iteration === 0 ? new Promise(() => {}) : new Promise((resolve) => setTimeout(resolve, 1_800));
      },
      { clock },
    );
    let settled = false;
    void run.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(2_900);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    const result = await run;
    expect(result).toMatchObject({ started: 2, completed: 1, interrupted: 1, aborted: false, durationMs: 3_000 });
    expect(signals[0]?.aborted).toBe(true);
    expect((signals[0]?.reason as Error).message).toContain('graceful stop expired');
  });

  it('emits a progress snapshot every tick', async () => {
    const clock = fakeClock();
    const ticks: ExecutorSnapshot[] = [];
    const run = runConstantArrivalRate({ rate: 5, duration: '3s', preAllocatedVUs: 1 }, () => new Promise((r) => setTimeout(r, 300)), {
      clock,
      onTick: (snapshot) => ticks.push(snapshot),
    });
    await vi.advanceTimersByTimeAsync(5_000);
    await run;
    expect(ticks.map((tick) => tick.elapsedMs)).toEqual([1_000, 2_000, 3_000]);
    // Arrivals every 200 ms, iterations of 300 ms on one VU: 0, 400 and 800 start; 200 and 600 are dropped.
    expect(ticks[0]).toMatchObject({ planned: 15, scheduled: 5, started: 3, dropped: 2, inFlight: 1, allocatedVUs: 1 });
  });

  it('survives a hook that throws', async () => {
    const clock = fakeClock();
    const warning = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const run = runConstantArrivalRate({ rate: 10, duration: '300ms', preAllocatedVUs: 1 }, () => new Promise((r) => setTimeout(r, 150)), {
      clock,
      onDropped: () => {
        throw new Error('hook bug');
      },
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await run).toMatchObject({ started: 2, dropped: 1 });
    expect(warning).toHaveBeenCalledTimes(1);
    warning.mockRestore();
  });

  it('rejects bad options, naming every bad field', async () => {
    const attempt = runConstantArrivalRate(
      { rate: -1, timeUnit: 'soon', duration: '1x', preAllocatedVUs: 1.5, maxVUs: 0 },
      () => Promise.resolve(),
      { clock: fakeClock() },
    );
    await expect(attempt).rejects.toBeInstanceOf(LoadOptionsError);
    const error = (await attempt.catch((e: unknown) => e)) as LoadOptionsError;
    expect(error.code).toBe('FL_BAD_LOAD_OPTIONS');
    expect(error.problems).toEqual([
      'timeUnit: invalid duration "soon": unexpected "soon" (units: d, h, m, s, ms, us, ns)',
      'duration: invalid duration "1x": unknown unit "x" (units: d, h, m, s, ms, us, ns)',
      'rate: must be a number > 0 (got -1)',
      'preAllocatedVUs: must be an integer >= 0 (got 1.5)',
      'maxVUs: must be an integer >= 1 (got 0)',
    ]);
    await expect(runConstantArrivalRate({ rate: 1, duration: '1s', preAllocatedVUs: 3, maxVUs: 2 }, () => Promise.resolve())).rejects.toThrow(
      'maxVUs: must be >= preAllocatedVUs (2 < 3)',
    );
  });
});

// The closed-model executors (constant-vus, ramping-vus, per-vu-iterations)
// on fake timers: VU counts over time, back-to-back iterations, ramp-down and
// stop grace. Real sockets are in executors.http.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import { vuSteps } from './closed-model.ts';
import type { IterationContext } from './constant-arrival-rate.ts';
import { runConstantVUs } from './constant-vus.ts';
import { runPerVUIterations } from './per-vu-iterations.ts';
import { rampingVUsPlan, runRampingVUs } from './ramping-vus.ts';

const EPOCH = 1_700_000_000_000;
const clock: Clock = { now: () => Date.now() - EPOCH, wallNow: () => Date.now() };

function sleeper(ms: number, log: Array<{ at: number; ctx: IterationContext }>) {
  return (ctx: IterationContext): Promise<void> => {
    log.push({ at: clock.now(), ctx });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(ctx.signal.reason as Error);
      });
    });
  };
}

describe('vuSteps', () => {
  it('adds a VU each time the line reaches the next integer, and removes them the same way', () => {
    expect(vuSteps(0, [{ target: 4, durationMs: 4_000 }, { target: 4, durationMs: 1_000 }, { target: 2, durationMs: 1_000 }])).toEqual([
      { atMs: 0, vus: 0 },
      { atMs: 1_000, vus: 1 },
      { atMs: 2_000, vus: 2 },
      { atMs: 3_000, vus: 3 },
      { atMs: 4_000, vus: 4 },
      { atMs: 5_500, vus: 3 },
      { atMs: 6_000, vus: 2 },
    ]);
  });

  it('merges steps at the same instant (zero-length stages jump)', () => {
    expect(vuSteps(1, [{ target: 3, durationMs: 0 }, { target: 3, durationMs: 1_000 }])).toEqual([{ atMs: 0, vus: 3 }]);
  });
});

describe('closed-model executors (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: EPOCH });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('constant-vus: each VU runs iterations back to back, intended start = actual start', async () => {
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runConstantVUs({ vus: 2, duration: '1s' }, sleeper(100, log), { clock });
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await run;
    for (const vu of [1, 2]) {
      const starts = log.filter((entry) => entry.ctx.vu === vu).map((entry) => entry.at);
      expect(starts).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    }
    for (const entry of log) expect(entry.ctx.intendedStartMs).toBe(EPOCH + entry.at);
    expect(new Set(log.map((entry) => entry.ctx.iteration)).size).toBe(20);
    expect(result).toMatchObject({ started: 20, completed: 20, failed: 0, dropped: 0, interrupted: 0, maxAllocatedVUs: 2, aborted: false });
    expect(result.durationMs).toBe(1_000);
  });

  it('constant-vus: a slow system lowers the offered load (the closed-model property)', async () => {
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runConstantVUs({ vus: 2, duration: '1s' }, sleeper(400, log), { clock });
    await vi.advanceTimersByTimeAsync(2_000);
    const result = await run;
    expect(result.started).toBe(6);
    // The last iterations (started at 800 ms) finish at 1200 ms within gracefulStop.
    expect(result.durationMs).toBe(1_200);
    expect(result.completed).toBe(6);
  });

  it('ramping-vus: follows the stages and interrupts a VU that outlives gracefulRampDown', async () => {
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const errors: unknown[] = [];
    const iteration = (ctx: IterationContext): Promise<void> => (ctx.vu === 3 && ctx.iteration > 0 && log.some((e) => e.ctx.vu === 3) ? sleeper(5_000, log)(ctx) : sleeper(100, log)(ctx));
    const run = runRampingVUs(
      { startVUs: 1, stages: [{ target: 3, duration: '200ms' }, { target: 3, duration: '300ms' }, { target: 1, duration: '200ms' }, { target: 1, duration: '500ms' }], gracefulRampDown: '300ms' },
      iteration,
      { clock, onIterationError: (error) => errors.push(error) },
    );
    await vi.advanceTimersByTimeAsync(3_000);
    const result = await run;
    const firstStart = (vu: number) => log.find((entry) => entry.ctx.vu === vu)?.at;
    expect([firstStart(1), firstStart(2), firstStart(3)]).toEqual([0, 100, 200]);
    // The count falls to 2 at 600 ms (VU 3 leaves) and to 1 at 700 ms (VU 2 leaves after its current iteration).
    const lastStart = (vu: number) => log.filter((entry) => entry.ctx.vu === vu).at(-1)!.at;
    expect(lastStart(2)).toBeLessThan(700);
    expect(lastStart(1)).toBeGreaterThanOrEqual(1_100);
    // VU 3 is stuck in a 5 s iteration when it is ramped down at 600 ms; it is interrupted 300 ms later (900 ms).
    expect(result.interrupted).toBe(1);
    expect(errors).toHaveLength(1);
    expect(result.maxAllocatedVUs).toBe(3);
    expect(result.durationMs).toBeGreaterThanOrEqual(1_200);
    expect(result.durationMs).toBeLessThanOrEqual(1_300);
  });

  it('per-vu-iterations: each VU runs exactly its iterations, and the run ends when all are done', async () => {
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runPerVUIterations({ vus: 3, iterations: 4 }, sleeper(50, log), { clock });
    await vi.advanceTimersByTimeAsync(1_000);
    const result = await run;
    for (const vu of [1, 2, 3]) expect(log.filter((entry) => entry.ctx.vu === vu)).toHaveLength(4);
    expect(result).toMatchObject({ started: 12, completed: 12, interrupted: 0, aborted: false });
    expect(result.durationMs).toBe(200);
  });

  it('per-vu-iterations: maxDuration and gracefulStop cut a run short', async () => {
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runPerVUIterations({ vus: 1, iterations: 100, maxDuration: '250ms', gracefulStop: '20ms' }, sleeper(100, log), { clock });
    await vi.advanceTimersByTimeAsync(1_000);
    const result = await run;
    expect(result).toMatchObject({ started: 3, completed: 2, interrupted: 1 });
    expect(result.durationMs).toBe(270);
  });

  it('stops promptly on abort', async () => {
    const controller = new AbortController();
    const log: Array<{ at: number; ctx: IterationContext }> = [];
    const run = runConstantVUs({ vus: 2, duration: '10s' }, sleeper(100, log), { clock, signal: controller.signal });
    await vi.advanceTimersByTimeAsync(250);
    controller.abort();
    const result = await run;
    expect(result.aborted).toBe(true);
    expect(result.interrupted).toBe(2);
    expect(result.durationMs).toBe(250);
    expect(log.every((entry) => entry.ctx.signal.aborted)).toBe(true);
  });

  it('rejects bad options naming every field', async () => {
    expect(() => rampingVUsPlan({ startVUs: -1, stages: [{ target: 1.5, duration: 'x' }], gracefulRampDown: 'later' })).toThrow(LoadOptionsError);
    try {
      rampingVUsPlan({ startVUs: -1, stages: [{ target: 1.5, duration: 'x' }], gracefulRampDown: 'later' });
    } catch (error) {
      const problems = (error as LoadOptionsError).problems.join('\n');
      for (const field of ['startVUs', 'stages.0.target', 'stages.0.duration', 'gracefulRampDown']) expect(problems).toContain(`${field}:`);
    }
    await expect(runConstantVUs({ vus: 0, duration: '1s' }, async () => {})).rejects.toThrow(/vus: must be an integer >= 1/);
  });
});

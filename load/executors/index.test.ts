// The config front door: validation messages, derived numbers, and that each
// executor name reaches the right executor (fake timers).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../clock.ts';
import { LoadOptionsError } from '../schedule.ts';
import type { IterationContext } from './constant-arrival-rate.ts';
import { executorDurationMs, executorMaxVUs, parseExecutorConfig, runExecutor } from './index.ts';

const EPOCH = 1_700_000_000_000;

function problemsOf(input: unknown, root = ''): string[] {
  try {
    parseExecutorConfig(input, root);
  } catch (error) {
    expect(error).toBeInstanceOf(LoadOptionsError);
    return [...(error as LoadOptionsError).problems];
  }
  throw new Error('expected the config to be rejected');
}

describe('parseExecutorConfig', () => {
  it('normalises k6 shorthand durations and fills defaults', () => {
    expect(parseExecutorConfig({ executor: 'ramping-vus', stages: [{ target: 5, duration: '1m30s' }] })).toEqual({
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [{ target: 5, duration: 90_000 }],
      gracefulRampDown: 5_000,
      gracefulStop: 5_000,
    });
  });

  it('reports every bad path, unknown keys included, under the root', () => {
    const problems = problemsOf(
      { executor: 'ramping-arrival-rate', startRate: -1, stages: [{ target: 5, duration: 'soon' }, { target: 'x', duration: '1s', extra: 1 }], preAllocatedVUs: 1, maxVU: 3 },
      'load',
    ).join('\n');
    for (const path of ['load.startRate:', 'load.stages.0.duration:', 'load.stages.1.target:', 'load.stages.1:', 'load:']) expect(problems).toContain(path);
    expect(problems).toMatch(/maxVU/);
  });

  it('rejects an unknown executor, naming the field', () => {
    expect(problemsOf({ executor: 'shared-iterations' }).join('\n')).toMatch(/^executor: /);
  });

  it('ramping-arrival-rate takes stages or a shape, not both nor neither', () => {
    expect(problemsOf({ executor: 'ramping-arrival-rate', preAllocatedVUs: 1 })).toEqual(['stages: give either stages or shape, not neither']);
    expect(
      problemsOf({ executor: 'ramping-arrival-rate', preAllocatedVUs: 1, stages: [{ target: 1, duration: '1s' }], shape: { name: 'spike', peakRate: 5, duration: '1m' } }),
    ).toEqual(['stages: give either stages or shape, not both']);
    expect(problemsOf({ executor: 'ramping-arrival-rate', preAllocatedVUs: 1, shape: { name: 'wave', peakRate: 5, duration: '1m' } }).join()).toContain('shape.name:');
  });

  it('derives max VUs and duration for the runner', () => {
    const ramp = parseExecutorConfig({ executor: 'ramping-vus', startVUs: 2, stages: [{ target: 9, duration: '10s' }, { target: 0, duration: '5s' }] });
    expect([executorMaxVUs(ramp), executorDurationMs(ramp)]).toEqual([9, 15_000]);
    const open = parseExecutorConfig({ executor: 'ramping-arrival-rate', preAllocatedVUs: 3, maxVUs: 12, shape: { name: 'diurnal', peakRate: 5, duration: '2m' } });
    expect([executorMaxVUs(open), executorDurationMs(open)]).toEqual([12, 120_000]);
    const cvus = parseExecutorConfig({ executor: 'constant-vus', vus: 4, duration: '30s' });
    expect([executorMaxVUs(cvus), executorDurationMs(cvus)]).toEqual([4, 30_000]);
  });
});

describe('runExecutor (fake timers)', () => {
  const clock: Clock = { now: () => Date.now() - EPOCH, wallNow: () => Date.now() };
  beforeEach(() => {
    vi.useFakeTimers({ now: EPOCH });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function run(config: unknown): Promise<{ result: Awaited<ReturnType<typeof runExecutor>>; starts: number[] }> {
    const starts: number[] = [];
    const t0 = Date.now();
    const pending = runExecutor(
      config,
      (ctx: IterationContext) => {
        starts.push(ctx.intendedStartMs - t0);
        return new Promise((resolve) => setTimeout(resolve, 10));
      },
      { clock },
    );
    await vi.advanceTimersByTimeAsync(5_000);
    return { result: await pending, starts };
  }

  it('dispatches each executor name', async () => {
    expect((await run({ executor: 'constant-arrival-rate', rate: 4, duration: '1s', preAllocatedVUs: 1 })).starts).toEqual([0, 250, 500, 750]);
    expect((await run({ executor: 'ramping-arrival-rate', startRate: 4, stages: [{ target: 4, duration: '1s' }], preAllocatedVUs: 1 })).starts).toEqual([0, 250, 500, 750]);
    expect((await run({ executor: 'constant-vus', vus: 1, duration: '100ms' })).result.started).toBe(10);
    expect((await run({ executor: 'ramping-vus', startVUs: 0, stages: [{ target: 2, duration: '100ms' }, { target: 2, duration: '100ms' }] })).result.maxAllocatedVUs).toBe(2);
    expect((await run({ executor: 'per-vu-iterations', vus: 2, iterations: 3 })).result).toMatchObject({ started: 6, completed: 6 });
  });

  it('constant-arrival-rate with poisson arrivals is seeded and irregular', async () => {
    const config = { executor: 'constant-arrival-rate', rate: 20, duration: '2s', preAllocatedVUs: 5, arrivals: 'poisson', seed: 9 };
    const a = await run(config);
    const b = await run(config);
    expect(a.starts).toEqual(b.starts);
    expect(new Set(a.starts.slice(1).map((x, i) => Math.round(x - a.starts[i]!))).size).toBeGreaterThan(5);
  });

  it('runs a named shape', async () => {
    const { result } = await run({ executor: 'ramping-arrival-rate', preAllocatedVUs: 2, shape: { name: 'average', peakRate: 10, duration: '2s' } });
    // 0.9 x 10/s x 2 s.
    expect(result.planned).toBe(18);
  });

  it('rejects bad config before any iteration starts', async () => {
    await expect(runExecutor({ executor: 'constant-vus', vus: 0 }, async () => {})).rejects.toThrow(/vus: .*duration: /);
  });
});

// k6's ramping-arrival-rate executor: an open model whose rate moves
// linearly from one stage target to the next. The schedule is pure maths,
// computed before traffic flows: the expected number of arrivals by time t is
// the integral of the rate, and arrival i is due where that integral reaches
// a target (i for evenly spaced arrivals, a running sum of unit exponentials
// for Poisson arrivals: the time-rescaling construction of a non-homogeneous
// Poisson process, seeded so a run can be repeated). The run itself is the
// constant-arrival-rate engine (runArrivalPlan): same VU slots, same drops.

import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { createRandom, deriveSeed } from '../../demo-services/kit/random.ts';
import { collectDuration, LoadOptionsError, MAX_MATERIALISED_ARRIVALS } from '../schedule.ts';
import { runArrivalPlan } from './constant-arrival-rate.ts';
import type { ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';

export type ArrivalProcess = 'even' | 'poisson';

export interface RateStage {
  /** Rate (per timeUnit) reached at the end of the stage. */
  target: number;
  duration: DurationInput;
}

export interface RampingArrivalRateOptions {
  /** Rate (per timeUnit) at the start; default 0. */
  startRate?: number;
  /** Default '1s'. */
  timeUnit?: DurationInput;
  stages: readonly RateStage[];
  preAllocatedVUs: number;
  /** Default preAllocatedVUs. */
  maxVUs?: number;
  /** Default '5s'. */
  gracefulStop?: DurationInput;
  /** Default 'even'. */
  arrivals?: ArrivalProcess;
  /** Seed for Poisson arrivals; default 1. */
  seed?: number;
}

/** A rate schedule in milliseconds: the rate (arrivals per ms) moves linearly within each stage. */
export interface RateSchedule {
  startRatePerMs: number;
  stages: ReadonlyArray<{ targetPerMs: number; durationMs: number }>;
}

export interface ResolvedRampingArrivalRate {
  schedule: RateSchedule;
  preAllocatedVUs: number;
  maxVUs: number;
  gracefulStopMs: number;
  arrivals: ArrivalProcess;
  seed: number;
}

export function resolveRampingArrivalRateOptions(options: RampingArrivalRateOptions): ResolvedRampingArrivalRate {
  const problems: string[] = [];
  const duration = (field: string, value: DurationInput | undefined, fallback: number): number => collectDuration(problems, field, value, fallback);
  const rateOk = (field: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      problems.push(`${field}: must be a number >= 0 (got ${String(value)})`);
      return 0;
    }
    return value;
  };
  const timeUnitMs = duration('timeUnit', options.timeUnit, 1_000);
  if (timeUnitMs <= 0) problems.push('timeUnit: must be > 0');
  const startRate = rateOk('startRate', options.startRate ?? 0);
  if (!Array.isArray(options.stages) || options.stages.length === 0) problems.push('stages: must be a non-empty array');
  const stages = (Array.isArray(options.stages) ? options.stages : []).map((stage, i) => {
    const durationMs = duration(`stages.${i}.duration`, stage?.duration, 0);
    if (durationMs <= 0) problems.push(`stages.${i}.duration: is required and must be > 0`);
    return { targetPerMs: rateOk(`stages.${i}.target`, stage?.target) / (timeUnitMs || 1), durationMs };
  });
  const pre = options.preAllocatedVUs;
  if (!Number.isInteger(pre) || pre < 0) problems.push(`preAllocatedVUs: must be an integer >= 0 (got ${String(pre)})`);
  const max = options.maxVUs ?? pre;
  if (!Number.isInteger(max) || max < 1) problems.push(`maxVUs: must be an integer >= 1 (got ${String(max)})`);
  else if (Number.isInteger(pre) && max < pre) problems.push(`maxVUs: must be >= preAllocatedVUs (${max} < ${pre})`);
  const arrivals = options.arrivals ?? 'even';
  if (arrivals !== 'even' && arrivals !== 'poisson') problems.push(`arrivals: must be 'even' or 'poisson' (got ${String(arrivals)})`);
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed)) problems.push(`seed: must be an integer (got ${String(seed)})`);
  const gracefulStopMs = duration('gracefulStop', options.gracefulStop, 5_000);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  return { schedule: { startRatePerMs: startRate / timeUnitMs, stages }, preAllocatedVUs: pre, maxVUs: max, gracefulStopMs, arrivals, seed };
}

/** Total length of a rate schedule in ms. */
export function scheduleDurationMs(schedule: RateSchedule): number {
  return schedule.stages.reduce((sum, stage) => sum + stage.durationMs, 0);
}

/** Expected arrivals over the whole schedule (the integral of the rate). */
export function expectedArrivals(schedule: RateSchedule): number {
  let from = schedule.startRatePerMs;
  let total = 0;
  for (const stage of schedule.stages) {
    total += ((from + stage.targetPerMs) / 2) * stage.durationMs;
    from = stage.targetPerMs;
  }
  return total;
}

/** The rate (per ms) at `elapsedMs` into the schedule. */
export function rateAt(schedule: RateSchedule, elapsedMs: number): number {
  let from = schedule.startRatePerMs;
  let at = 0;
  for (const stage of schedule.stages) {
    if (elapsedMs < at + stage.durationMs) return from + ((stage.targetPerMs - from) * (elapsedMs - at)) / stage.durationMs;
    at += stage.durationMs;
    from = stage.targetPerMs;
  }
  return from;
}

/**
 * Arrival offsets (ms from the start) of a ramping schedule. Even: arrival i
 * is where the expected count reaches i (so arrival 0 is at 0). Poisson: where
 * it reaches a running sum of unit exponentials drawn from `seed`.
 */
export function rampingArrivalOffsets(schedule: RateSchedule, arrivals: ArrivalProcess = 'even', seed = 1): number[] {
  const total = expectedArrivals(schedule);
  const limit = arrivals === 'even' ? total : total * 1.5 + 100;
  if (limit > MAX_MATERIALISED_ARRIVALS) {
    throw new LoadOptionsError([`schedule: about ${Math.round(total)} arrivals is too many (limit ${MAX_MATERIALISED_ARRIVALS})`]);
  }
  const random = createRandom(deriveSeed(seed, 'arrivals'));
  const offsets: number[] = [];
  let stageIndex = 0;
  let stageStartMs = 0;
  let stageStartCount = 0;
  let from = schedule.startRatePerMs;
  let target = arrivals === 'even' ? 0 : -Math.log(1 - random.next());
  // The epsilon keeps an exact total (e.g. 10.000000001 from rounding) from adding an arrival at the very end.
  while (target < total - 1e-9) {
    // Advance to the stage holding the target count.
    for (;;) {
      const stage = schedule.stages[stageIndex]!;
      const area = ((from + stage.targetPerMs) / 2) * stage.durationMs;
      if (target < stageStartCount + area || stageIndex === schedule.stages.length - 1) break;
      stageStartCount += area;
      stageStartMs += stage.durationMs;
      from = stage.targetPerMs;
      stageIndex += 1;
    }
    const stage = schedule.stages[stageIndex]!;
    const n = target - stageStartCount;
    const slope = (stage.targetPerMs - from) / stage.durationMs;
    // Solve from*t + slope*t^2/2 = n in the form that stays exact when slope is 0 or from is 0.
    const root = Math.sqrt(Math.max(0, from * from + 2 * slope * n));
    const t = n <= 0 ? 0 : (2 * n) / (from + root);
    offsets.push(Math.min(stageStartMs + t, stageStartMs + stage.durationMs));
    target = arrivals === 'even' ? target + 1 : target - Math.log(1 - random.next());
  }
  return offsets;
}

/** Run `iteration` on a ramping arrival-rate schedule (open model); never rejects for what an iteration does. */
export async function runRampingArrivalRate(
  options: RampingArrivalRateOptions,
  iteration: IterationFunction,
  runtime: ExecutorRuntime = {},
): Promise<ExecutorResult> {
  const resolved = resolveRampingArrivalRateOptions(options);
  const offsets = rampingArrivalOffsets(resolved.schedule, resolved.arrivals, resolved.seed);
  const plan = { planned: offsets.length, durationMs: scheduleDurationMs(resolved.schedule), offset: (index: number) => offsets[index]! };
  return runArrivalPlan(plan, resolved, iteration, runtime);
}

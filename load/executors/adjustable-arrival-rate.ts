// An open model whose rate is turned while it runs: a live console starts
// background traffic at 0, turns it up until the shop bends, pauses it, all
// without a restart (k6 fixes a scenario's rate when the scenario starts).
//
// The rate comes from an AdjustableRate. The schedule is the integral of the
// rate, as in ramping-arrival-rate.ts, with a constant-rate segment added at
// each change instead of stages planned ahead: arrival i is due where the
// expected count reaches i. So the next arrival after a change is computed
// from the new rate at the moment of change, and the part of an interval
// already waited carries over (at 1/s, half a second in, a change to 10/s
// brings the next arrival 50 ms later): dragging a slider back and forth
// neither bursts nor starves the schedule. Rate 0 is a pause: no arrivals,
// the VUs stay allocated. The run is the constant-arrival-rate engine
// (runArrivalPlan): intended start times, VU slots up to maxVUs, drops
// counted through onDropped.

import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { collectDuration, LoadOptionsError } from '../schedule.ts';
import { runArrivalPlan } from './constant-arrival-rate.ts';
import type { ArrivalPlan, ArrivalVUs, ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';

/** A rate that can be changed while an executor reads it. */
export interface AdjustableRate {
  /** Iterations per timeUnit now (0: paused). */
  get(): number;
  /** Change the rate; a running executor schedules its next arrival from it at once. Throws LoadOptionsError unless a finite number >= 0. */
  set(rate: number): void;
  /** Be told of each change; returns what unsubscribes. */
  onChange(listener: (rate: number) => void): () => void;
}

function rateProblem(rate: unknown): string | undefined {
  return typeof rate === 'number' && Number.isFinite(rate) && rate >= 0 ? undefined : `rate: must be a finite number >= 0 (got ${String(rate)})`;
}

export function createAdjustableRate(initial = 0): AdjustableRate {
  const problem = rateProblem(initial);
  if (problem !== undefined) throw new LoadOptionsError([problem]);
  let current = initial;
  const listeners = new Set<(rate: number) => void>();
  return {
    get: () => current,
    set(rate) {
      const bad = rateProblem(rate);
      if (bad !== undefined) throw new LoadOptionsError([bad]);
      if (rate === current) return;
      current = rate;
      for (const listener of listeners) listener(rate);
    },
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export interface AdjustableArrivalRateOptions {
  rate: AdjustableRate;
  /** Default '1s'. */
  timeUnit?: DurationInput;
  /** Default: until runtime.signal aborts. */
  duration?: DurationInput;
  preAllocatedVUs: number;
  /** Default preAllocatedVUs. */
  maxVUs?: number;
  /** Default '5s'. */
  gracefulStop?: DurationInput;
}

export interface ResolvedAdjustableArrivalRate extends ArrivalVUs {
  timeUnitMs: number;
  /** Infinity: until aborted. */
  durationMs: number;
}

export function resolveAdjustableArrivalRateOptions(options: AdjustableArrivalRateOptions): ResolvedAdjustableArrivalRate {
  const problems: string[] = [];
  const duration = (field: string, value: DurationInput | undefined, fallback: number): number => collectDuration(problems, field, value, fallback);
  const timeUnitMs = duration('timeUnit', options.timeUnit, 1_000);
  if (timeUnitMs <= 0) problems.push('timeUnit: must be > 0');
  const durationMs = duration('duration', options.duration, Infinity);
  if (durationMs <= 0) problems.push('duration: must be > 0 (leave it out to run until aborted)');
  if (typeof options.rate?.get !== 'function' || typeof options.rate.onChange !== 'function') problems.push('rate: must be an AdjustableRate (createAdjustableRate)');
  const pre = options.preAllocatedVUs;
  if (!Number.isInteger(pre) || pre < 0) problems.push(`preAllocatedVUs: must be an integer >= 0 (got ${String(pre)})`);
  const max = options.maxVUs ?? pre;
  if (!Number.isInteger(max) || max < 1) problems.push(`maxVUs: must be an integer >= 1 (got ${String(max)})`);
  else if (Number.isInteger(pre) && max < pre) problems.push(`maxVUs: must be >= preAllocatedVUs (${max} < ${pre})`);
  const gracefulStopMs = duration('gracefulStop', options.gracefulStop, 5_000);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  return { timeUnitMs, durationMs, preAllocatedVUs: pre, maxVUs: max, gracefulStopMs };
}

/** From `startMs` the rate is `perMs`; `countAtStart` arrivals were expected before it. */
interface Segment {
  startMs: number;
  perMs: number;
  countAtStart: number;
}

/**
 * The arrival plan of an adjustable rate: one segment per change, each opened at the
 * run's elapsed time of the change with the expected count reached so far. Segments the
 * next arrival has passed are dropped, so a session of many changes keeps a few.
 */
export function adjustableArrivalPlan(rate: AdjustableRate, timeUnitMs = 1_000, durationMs = Infinity): ArrivalPlan {
  let segments: Segment[] = [{ startMs: 0, perMs: rate.get() / timeUnitMs, countAtStart: 0 }];
  return {
    planned: Infinity,
    durationMs,
    offset(index) {
      // Asked in increasing order: a segment whose successor starts at or before this count is done with.
      while (segments.length > 1 && (segments[1] as Segment).countAtStart <= index) segments.shift();
      const { startMs, perMs, countAtStart } = segments[0] as Segment;
      if (perMs === 0) return Infinity;
      const at = startMs + Math.max(0, index - countAtStart) / perMs;
      return at < durationMs ? at : Infinity;
    },
    follow(elapsedMs, replan) {
      segments = [{ startMs: 0, perMs: rate.get() / timeUnitMs, countAtStart: 0 }];
      return rate.onChange((next) => {
        const last = segments[segments.length - 1] as Segment;
        const now = Math.max(last.startMs, elapsedMs());
        const segment = { startMs: now, perMs: next / timeUnitMs, countAtStart: last.countAtStart + last.perMs * (now - last.startMs) };
        if (now === last.startMs) segments[segments.length - 1] = segment;
        else segments.push(segment);
        replan();
      });
    },
  };
}

/**
 * Run `iteration` at the rate `options.rate` holds, following its changes (open model).
 * Resolves when the duration has passed (default: never) or runtime.signal aborts; never
 * rejects for what an iteration does. ExecutorResult.planned is the arrivals that came.
 */
export async function runAdjustableArrivalRate(
  options: AdjustableArrivalRateOptions,
  iteration: IterationFunction,
  runtime: ExecutorRuntime = {},
): Promise<ExecutorResult> {
  const resolved = resolveAdjustableArrivalRateOptions(options);
  return runArrivalPlan(adjustableArrivalPlan(options.rate, resolved.timeUnitMs, resolved.durationMs), resolved, iteration, runtime);
}

// An open model whose rate is constant within each segment and jumps between
// them: a client stream that runs at its usual rate and bursts tenfold for
// one phase of a scenario. Each segment is its own constant-arrival-rate
// schedule (evenly spaced from the segment's start, schedule.ts), laid end to
// end; the run is the constant-arrival-rate engine (runArrivalPlan), with its
// VU slots and drops. k6 spells the same load as one constant-arrival-rate
// scenario per segment, each with its startTime (load/k6/generate.ts).

import { arrivalCount, arrivalOffset, LoadOptionsError } from '../schedule.ts';
import { runArrivalPlan } from './constant-arrival-rate.ts';
import type { ArrivalPlan, ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';

export interface RateSegment {
  durationMs: number;
  /** Iterations per timeUnit in this segment; 0 for none. */
  rate: number;
}

export interface PhasedArrivalRateOptions {
  segments: readonly RateSegment[];
  /** Default 1000 ms. */
  timeUnitMs?: number;
  preAllocatedVUs: number;
  /** Default preAllocatedVUs. */
  maxVUs?: number;
  /** Default 5000 ms. */
  gracefulStopMs?: number;
}

/** The arrivals of segments laid end to end: every offset computed from its segment's start and index, so nothing drifts. */
export function phasedArrivalPlan(segments: readonly RateSegment[], timeUnitMs = 1_000): ArrivalPlan {
  const problems: string[] = [];
  if (!(timeUnitMs > 0)) problems.push(`timeUnit: must be > 0 ms (got ${timeUnitMs})`);
  segments.forEach((segment, i) => {
    if (!Number.isFinite(segment.rate) || segment.rate < 0) problems.push(`segments.${i}.rate: must be a number >= 0 (got ${segment.rate})`);
    if (!Number.isFinite(segment.durationMs) || segment.durationMs < 0) problems.push(`segments.${i}.durationMs: must be >= 0 (got ${segment.durationMs})`);
  });
  if (problems.length > 0) throw new LoadOptionsError(problems);
  const laid: Array<{ startMs: number; firstIndex: number; count: number; spec: { rate: number; timeUnitMs: number; durationMs: number } }> = [];
  let startMs = 0;
  let planned = 0;
  for (const segment of segments) {
    const spec = { rate: segment.rate, timeUnitMs, durationMs: segment.durationMs };
    const count = segment.rate === 0 || segment.durationMs === 0 ? 0 : arrivalCount(spec);
    laid.push({ startMs, firstIndex: planned, count, spec });
    startMs += segment.durationMs;
    planned += count;
  }
  let last = 0;
  return {
    planned,
    durationMs: startMs,
    offset(index) {
      // The executor asks in order: start looking where the last answer was found.
      if (index < (laid[last]?.firstIndex ?? 0)) last = 0;
      while (last < laid.length - 1 && index >= (laid[last] as (typeof laid)[number]).firstIndex + (laid[last] as (typeof laid)[number]).count) last += 1;
      const segment = laid[last] as (typeof laid)[number];
      return segment.startMs + arrivalOffset(segment.spec, index - segment.firstIndex);
    },
  };
}

export async function runPhasedArrivalRate(options: PhasedArrivalRateOptions, iteration: IterationFunction, runtime: ExecutorRuntime = {}): Promise<ExecutorResult> {
  const maxVUs = options.maxVUs ?? options.preAllocatedVUs;
  const problems: string[] = [];
  if (!Number.isInteger(options.preAllocatedVUs) || options.preAllocatedVUs < 0) problems.push(`preAllocatedVUs: must be an integer >= 0 (got ${options.preAllocatedVUs})`);
  if (!Number.isInteger(maxVUs) || maxVUs < 1 || maxVUs < options.preAllocatedVUs) problems.push(`maxVUs: must be an integer >= 1 and >= preAllocatedVUs (got ${maxVUs})`);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  const plan = phasedArrivalPlan(options.segments, options.timeUnitMs);
  return runArrivalPlan(plan, { preAllocatedVUs: options.preAllocatedVUs, maxVUs, gracefulStopMs: options.gracefulStopMs ?? 5_000 }, iteration, runtime);
}

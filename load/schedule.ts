// Arrival times of an open-model workload, as pure maths, computed before
// traffic flows. k6's constant-arrival-rate executor starts `rate` iterations
// per `timeUnit`, evenly spaced from the start of the run; iteration i is due
// at i * timeUnit / rate. Offsets are computed from the index, never by
// adding intervals, so rounding error does not accumulate over a long run.
// The executor asks for one offset at a time (arrivalOffset) instead of
// materialising a possibly huge array; arrivalOffsets exists for tests and
// reports.

import { parseDuration, type DurationInput } from '../demo-services/kit/durations.ts';

export interface ConstantArrivalSpec {
  /** Iterations per time unit (> 0, may be fractional). */
  rate: number;
  /** Length of the time unit in milliseconds (> 0). */
  timeUnitMs: number;
  /** Length of the run in milliseconds (>= 0). */
  durationMs: number;
}

/** Bad load options; `problems` lists every bad field, not only the first. */
export class LoadOptionsError extends Error {
  readonly code = 'FL_BAD_LOAD_OPTIONS';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid load options: ${problems.join('; ')}`);
    this.name = 'LoadOptionsError';
    this.problems = problems;
  }
}

/**
 * A duration option parsed for an options check that reports every problem at
 * once: a bad value adds its message to `problems` and yields `fallback`.
 */
export function collectDuration(problems: string[], field: string, value: DurationInput | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return parseDuration(value, field);
  } catch (error) {
    problems.push((error as Error).message);
    return fallback;
  }
}

/** The largest schedule arrivalOffsets will build as an array (the executor itself has no limit). */
export const MAX_MATERIALISED_ARRIVALS = 10_000_000;

export function validateConstantArrivalSpec(spec: ConstantArrivalSpec): void {
  const problems: string[] = [];
  if (!Number.isFinite(spec.rate) || spec.rate <= 0) problems.push(`rate: must be a number > 0 (got ${spec.rate})`);
  if (!Number.isFinite(spec.timeUnitMs) || spec.timeUnitMs <= 0) problems.push(`timeUnit: must be > 0 ms (got ${spec.timeUnitMs})`);
  if (!Number.isFinite(spec.durationMs) || spec.durationMs < 0) problems.push(`duration: must be >= 0 ms (got ${spec.durationMs})`);
  if (problems.length > 0) throw new LoadOptionsError(problems);
}

/** How many iterations the schedule starts: every i with offset(i) < durationMs. */
export function arrivalCount(spec: ConstantArrivalSpec): number {
  validateConstantArrivalSpec(spec);
  if (spec.durationMs === 0) return 0;
  // offset(i) < duration  <=>  i < duration * rate / timeUnit; the epsilon keeps
  // an exact product such as 1000 * 10 / 1000 = 10 from becoming 10.000000001.
  const exact = (spec.durationMs * spec.rate) / spec.timeUnitMs;
  return Math.max(1, Math.ceil(exact - 1e-9));
}

/** Offset (ms from the run start) at which iteration `index` (0-based) is due. */
export function arrivalOffset(spec: ConstantArrivalSpec, index: number): number {
  return (index * spec.timeUnitMs) / spec.rate;
}

/** All arrival offsets of a constant-rate schedule, evenly spaced from 0. */
export function arrivalOffsets(spec: ConstantArrivalSpec): number[] {
  const count = arrivalCount(spec);
  if (count > MAX_MATERIALISED_ARRIVALS) {
    throw new LoadOptionsError([`schedule: ${count} arrivals is too many to list (limit ${MAX_MATERIALISED_ARRIVALS})`]);
  }
  const offsets = new Array<number>(count);
  for (let i = 0; i < count; i += 1) offsets[i] = arrivalOffset(spec, i);
  return offsets;
}

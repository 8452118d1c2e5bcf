// k6's constant-vus executor: a fixed number of VUs, each looping iterations
// back to back for `duration` (a closed model; see closed-model.ts for what
// that hides). Useful for soak-style "N users keep using the shop" runs.

import { parseDuration } from '../../demo-services/kit/durations.ts';
import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { LoadOptionsError } from '../schedule.ts';
import { checkVuCount, runVuPlan } from './closed-model.ts';
import type { VuPlan } from './closed-model.ts';
import type { ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';

export interface ConstantVUsOptions {
  vus: number;
  duration: DurationInput;
  /** Default '5s'. */
  gracefulStop?: DurationInput;
}

/** Collects every problem with durations instead of stopping at the first. */
export function durationReader(problems: string[]) {
  return (field: string, value: DurationInput | undefined, fallback: number | undefined): number => {
    if (value === undefined) {
      if (fallback === undefined) problems.push(`${field}: is required`);
      return fallback ?? 0;
    }
    try {
      return parseDuration(value, field);
    } catch (error) {
      problems.push((error as Error).message);
      return 0;
    }
  };
}

export function constantVUsPlan(options: ConstantVUsOptions): VuPlan {
  const problems: string[] = [];
  const duration = durationReader(problems);
  const vus = checkVuCount('vus', options.vus, problems, 1);
  const durationMs = duration('duration', options.duration, undefined);
  const gracefulStopMs = duration('gracefulStop', options.gracefulStop, 5_000);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  return { steps: [{ atMs: 0, vus }], durationMs, gracefulRampDownMs: gracefulStopMs, gracefulStopMs };
}

export async function runConstantVUs(options: ConstantVUsOptions, iteration: IterationFunction, runtime: ExecutorRuntime = {}): Promise<ExecutorResult> {
  return runVuPlan(constantVUsPlan(options), iteration, runtime);
}

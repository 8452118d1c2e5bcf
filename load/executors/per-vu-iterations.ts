// k6's per-vu-iterations executor: each of `vus` VUs runs exactly
// `iterations` iterations back to back, and the run ends when all are done
// (or at maxDuration). Good for a fixed amount of work, such as seeding
// carts, where the total matters more than the rate.

import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { LoadOptionsError } from '../schedule.ts';
import { checkVuCount, runVuPlan } from './closed-model.ts';
import type { VuPlan } from './closed-model.ts';
import type { ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';
import { durationReader } from './constant-vus.ts';

export interface PerVUIterationsOptions {
  /** Default 1. */
  vus?: number;
  /** Per VU; default 1. */
  iterations?: number;
  /** Default '10m', as k6. */
  maxDuration?: DurationInput;
  /** Default '5s'. */
  gracefulStop?: DurationInput;
}

export function perVUIterationsPlan(options: PerVUIterationsOptions): VuPlan {
  const problems: string[] = [];
  const duration = durationReader(problems);
  const vus = checkVuCount('vus', options.vus ?? 1, problems, 1);
  const iterations = checkVuCount('iterations', options.iterations ?? 1, problems, 1);
  const durationMs = duration('maxDuration', options.maxDuration, 600_000);
  const gracefulStopMs = duration('gracefulStop', options.gracefulStop, 5_000);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  return { steps: [{ atMs: 0, vus }], durationMs, iterationsPerVU: iterations, gracefulRampDownMs: gracefulStopMs, gracefulStopMs };
}

export async function runPerVUIterations(options: PerVUIterationsOptions, iteration: IterationFunction, runtime: ExecutorRuntime = {}): Promise<ExecutorResult> {
  return runVuPlan(perVUIterationsPlan(options), iteration, runtime);
}

// k6's ramping-vus executor: the number of looping VUs moves linearly
// through stages (a closed model). When it falls, surplus VUs finish their
// current iteration, for at most gracefulRampDown, before they stop.

import type { DurationInput } from '../../demo-services/kit/durations.ts';
import { LoadOptionsError } from '../schedule.ts';
import { checkVuCount, runVuPlan, vuSteps } from './closed-model.ts';
import type { VuPlan } from './closed-model.ts';
import type { ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';
import { durationReader } from './constant-vus.ts';

export interface VuStage {
  target: number;
  duration: DurationInput;
}

export interface RampingVUsOptions {
  /** Default 1, as k6. */
  startVUs?: number;
  stages: readonly VuStage[];
  /** Default '5s'. */
  gracefulRampDown?: DurationInput;
  /** Default '5s'. */
  gracefulStop?: DurationInput;
}

export function rampingVUsPlan(options: RampingVUsOptions): VuPlan {
  const problems: string[] = [];
  const duration = durationReader(problems);
  const startVUs = checkVuCount('startVUs', options.startVUs ?? 1, problems);
  if (!Array.isArray(options.stages) || options.stages.length === 0) problems.push('stages: must be a non-empty array');
  const stages = (Array.isArray(options.stages) ? options.stages : []).map((stage, i) => ({
    target: checkVuCount(`stages.${i}.target`, stage?.target, problems),
    durationMs: duration(`stages.${i}.duration`, stage?.duration, undefined),
  }));
  const gracefulRampDownMs = duration('gracefulRampDown', options.gracefulRampDown, 5_000);
  const gracefulStopMs = duration('gracefulStop', options.gracefulStop, 5_000);
  if (problems.length > 0) throw new LoadOptionsError(problems);
  const durationMs = stages.reduce((sum, stage) => sum + stage.durationMs, 0);
  return { steps: vuSteps(startVUs, stages), durationMs, gracefulRampDownMs, gracefulStopMs };
}

export async function runRampingVUs(options: RampingVUsOptions, iteration: IterationFunction, runtime: ExecutorRuntime = {}): Promise<ExecutorResult> {
  return runVuPlan(rampingVUsPlan(options), iteration, runtime);
}

// One entry point over every executor: a scenario (or any caller) hands over
// plain data with k6's field names and `executor` as the discriminant; this
// module validates it with zod (unknown keys rejected, every bad path
// reported at once, durations in k6's shorthand normalised to ms) and runs
// the matching executor. ramping-arrival-rate may name a traffic shape
// (shapes.ts) instead of listing stages.

import { z } from 'zod';
import { durationMs, formatIssues } from '../../demo-services/kit/schema.ts';
import { LoadOptionsError } from '../schedule.ts';
import { SHAPE_NAMES, shapeStages } from '../shapes.ts';
import { runConstantArrivalRate } from './constant-arrival-rate.ts';
import type { ExecutorResult, ExecutorRuntime, IterationFunction } from './constant-arrival-rate.ts';
import { runConstantVUs } from './constant-vus.ts';
import { runPerVUIterations } from './per-vu-iterations.ts';
import { runRampingArrivalRate } from './ramping-arrival-rate.ts';
import { runRampingVUs } from './ramping-vus.ts';

export const EXECUTOR_NAMES = ['constant-arrival-rate', 'ramping-arrival-rate', 'constant-vus', 'ramping-vus', 'per-vu-iterations'] as const;
export type ExecutorName = (typeof EXECUTOR_NAMES)[number];

const vus = z.int().min(1);
const rate = z.number().min(0);
const arrivals = z.enum(['even', 'poisson']).default('even');
const stage = (target: z.ZodNumber) => z.strictObject({ target, duration: durationMs.refine((ms) => ms > 0, 'must be > 0') });

export const executorConfigSchema = z.discriminatedUnion('executor', [
  z.strictObject({
    executor: z.literal('constant-arrival-rate'),
    rate: z.number().positive(),
    timeUnit: durationMs.default(1_000),
    duration: durationMs,
    preAllocatedVUs: z.int().min(0),
    maxVUs: vus.optional(),
    gracefulStop: durationMs.default(5_000),
    arrivals,
    seed: z.int().default(1),
  }),
  z.strictObject({
    executor: z.literal('ramping-arrival-rate'),
    startRate: rate.default(0),
    timeUnit: durationMs.default(1_000),
    /** Either stages ... */
    stages: z.array(stage(rate)).min(1).optional(),
    /** ... or a named shape from shapes.ts (rates per second). */
    shape: z.strictObject({ name: z.enum(SHAPE_NAMES), peakRate: z.number().positive(), duration: durationMs }).optional(),
    preAllocatedVUs: z.int().min(0),
    maxVUs: vus.optional(),
    gracefulStop: durationMs.default(5_000),
    arrivals,
    seed: z.int().default(1),
  }),
  z.strictObject({
    executor: z.literal('constant-vus'),
    vus,
    duration: durationMs,
    gracefulStop: durationMs.default(5_000),
  }),
  z.strictObject({
    executor: z.literal('ramping-vus'),
    startVUs: z.int().min(0).default(1),
    stages: z.array(stage(z.int().min(0))).min(1),
    gracefulRampDown: durationMs.default(5_000),
    gracefulStop: durationMs.default(5_000),
  }),
  z.strictObject({
    executor: z.literal('per-vu-iterations'),
    vus: vus.default(1),
    iterations: z.int().min(1).default(1),
    maxDuration: durationMs.default(600_000),
    gracefulStop: durationMs.default(5_000),
  }),
]);

/** A validated executor config: durations in ms, defaults filled in. */
export type ExecutorConfig = z.output<typeof executorConfigSchema>;
/** What a scenario file may spell (shorthand durations, defaults omitted). */
export type ExecutorConfigInput = z.input<typeof executorConfigSchema>;

/**
 * Validate an executor config; throws LoadOptionsError listing every bad
 * path (prefixed by `root`, e.g. 'load').
 */
export function parseExecutorConfig(input: unknown, root = ''): ExecutorConfig {
  const parsed = executorConfigSchema.safeParse(input);
  if (!parsed.success) throw new LoadOptionsError(formatIssues(parsed.error, root));
  const config = parsed.data;
  if (config.executor === 'ramping-arrival-rate' && (config.stages === undefined) === (config.shape === undefined)) {
    throw new LoadOptionsError([`${root ? `${root}.` : ''}stages: give either stages or shape, not ${config.stages === undefined ? 'neither' : 'both'}`]);
  }
  return config;
}

/** The most VUs the config can use at once (size per-VU resources such as tokens with it). */
export function executorMaxVUs(config: ExecutorConfig): number {
  switch (config.executor) {
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return config.maxVUs ?? config.preAllocatedVUs;
    case 'constant-vus':
    case 'per-vu-iterations':
      return config.vus;
    case 'ramping-vus':
      return Math.max(config.startVUs, ...config.stages.map((s) => s.target));
  }
}

/** How long the config runs before graceful stop, in ms (per-vu-iterations: its maxDuration). */
export function executorDurationMs(config: ExecutorConfig): number {
  switch (config.executor) {
    case 'constant-arrival-rate':
    case 'constant-vus':
      return config.duration;
    case 'ramping-arrival-rate':
      return config.shape?.duration ?? (config.stages ?? []).reduce((sum, s) => sum + s.duration, 0);
    case 'ramping-vus':
      return config.stages.reduce((sum, s) => sum + s.duration, 0);
    case 'per-vu-iterations':
      return config.maxDuration;
  }
}

/**
 * Run any executor. `config` may be raw (it is validated here) or already
 * parsed. Rejects only for bad config (LoadOptionsError), never for what an
 * iteration does.
 */
export async function runExecutor(config: unknown, iteration: IterationFunction, runtime: ExecutorRuntime = {}): Promise<ExecutorResult> {
  const c = parseExecutorConfig(config);
  const vuLimits = (maxVUs: number | undefined) => (maxVUs === undefined ? {} : { maxVUs });
  switch (c.executor) {
    case 'constant-arrival-rate':
      if (c.arrivals === 'poisson') {
        // A constant rate is a ramp that does not move; the ramping executor knows how to draw Poisson arrivals.
        return runRampingArrivalRate(
          { startRate: c.rate, timeUnit: c.timeUnit, stages: [{ target: c.rate, duration: c.duration }], preAllocatedVUs: c.preAllocatedVUs, ...vuLimits(c.maxVUs), gracefulStop: c.gracefulStop, arrivals: 'poisson', seed: c.seed },
          iteration,
          runtime,
        );
      }
      return runConstantArrivalRate({ rate: c.rate, timeUnit: c.timeUnit, duration: c.duration, preAllocatedVUs: c.preAllocatedVUs, ...vuLimits(c.maxVUs), gracefulStop: c.gracefulStop }, iteration, runtime);
    case 'ramping-arrival-rate': {
      const shaped = c.shape === undefined ? undefined : shapeStages(c.shape.name, c.shape.peakRate, Math.round(c.shape.duration));
      return runRampingArrivalRate(
        {
          startRate: shaped?.startRate ?? c.startRate,
          timeUnit: shaped === undefined ? c.timeUnit : 1_000,
          stages: shaped?.stages ?? c.stages ?? [],
          preAllocatedVUs: c.preAllocatedVUs,
          ...vuLimits(c.maxVUs),
          gracefulStop: c.gracefulStop,
          arrivals: c.arrivals,
          seed: c.seed,
        },
        iteration,
        runtime,
      );
    }
    case 'constant-vus':
      return runConstantVUs({ vus: c.vus, duration: c.duration, gracefulStop: c.gracefulStop }, iteration, runtime);
    case 'ramping-vus':
      return runRampingVUs({ startVUs: c.startVUs, stages: c.stages, gracefulRampDown: c.gracefulRampDown, gracefulStop: c.gracefulStop }, iteration, runtime);
    case 'per-vu-iterations':
      return runPerVUIterations({ vus: c.vus, iterations: c.iterations, maxDuration: c.maxDuration, gracefulStop: c.gracefulStop }, iteration, runtime);
  }
}

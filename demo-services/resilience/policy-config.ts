// The resilience knobs of one dependency call, as scenarios write them: each
// policy can be switched off or tuned, so the same scenario can be run with
// and without it. Parsed once (by the runner when it reads a scenario, and
// again by the service, which gets the normalised form).

import { z } from 'zod';
import { durationMs, ratio } from '../kit/schema.ts';

const enabled = z.boolean().default(true);

export const timeoutPolicySchema = z.strictObject({
  enabled,
  /** Budget for one attempt. */
  timeout: durationMs.default(1_000),
});

export const retryPolicySchema = z.strictObject({
  enabled,
  maxAttempts: z.int().min(1).max(10).default(3),
  baseDelay: durationMs.default(50),
  maxDelay: durationMs.default(500),
  jitter: z.enum(['none', 'full', 'equal', 'decorrelated']).default('full'),
  /**
   * A call the breaker refused: `fail` at once (the default), or `wait` until the breaker lets calls
   * through again (its retry-after) and try again, within the attempts and the deadline, as a caller
   * that queues its work through an outage does. Every caller refused by one breaker is told the same
   * moment: jitter is what keeps them from all coming back at it.
   */
  openCircuit: z.enum(['fail', 'wait']).default('fail'),
  /**
   * A shared retry budget that stops retry storms: retries spend tokens, successes refill them. The
   * defaults are the AWS SDKs' standard quota (500 tokens, 5 a retry, 10 after a timeout, 1 back a
   * success); a lab's phases last seconds, not hours, so a scenario may give a smaller bucket.
   */
  budget: z
    .strictObject({
      enabled: z.boolean().default(false),
      capacity: z.int().min(1).default(500),
      retryCost: z.int().min(1).default(5),
      timeoutRetryCost: z.int().min(1).default(10),
      successRefill: z.int().min(0).default(1),
    })
    .prefault({}),
});

export const bulkheadPolicySchema = z.strictObject({
  enabled: z.boolean().default(false),
  maxConcurrent: z.int().min(1).default(32),
  maxQueued: z.int().min(0).default(64),
  queueTimeout: durationMs.default(500),
});

export const circuitBreakerPolicySchema = z.strictObject({
  enabled,
  failureRateThreshold: ratio.default(0.5),
  slowCallRateThreshold: ratio.default(1),
  slowCallDuration: durationMs.default(1_000),
  windowSize: z.int().min(1).max(10_000).default(20),
  minimumCalls: z.int().min(1).default(10),
  openDuration: durationMs.default(5_000),
  halfOpenProbes: z.int().min(1).max(100).default(3),
});

export const dependencyPolicySchema = z.strictObject({
  timeout: timeoutPolicySchema.prefault({}),
  retry: retryPolicySchema.prefault({}),
  circuitBreaker: circuitBreakerPolicySchema.prefault({}),
  bulkhead: bulkheadPolicySchema.prefault({}),
  /** One budget for the whole call, retries included; none when absent. */
  deadline: durationMs.optional(),
});

export type DependencyPolicy = z.infer<typeof dependencyPolicySchema>;

/** The names `--disable` accepts. */
export const POLICY_NAMES = ['timeout', 'retry', 'circuitBreaker', 'bulkhead'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

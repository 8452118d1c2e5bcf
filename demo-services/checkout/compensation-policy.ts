// What checkout's compensation sweeper may do, in its own module so the
// runner's scenario schema (services.checkout.compensation) can read it without
// loading the sweeper and its telemetry.

import { z } from 'zod';
import { durationMs } from '../kit/schema.ts';

/** `policies.compensation` of checkout. */
export const compensationPolicySchema = z.strictObject({
  /** Off: an owed refund or release is recorded and never retried (the pattern the saga-compensation scenario switches off). */
  enabled: z.boolean().default(true),
  /** How often the sweeper looks for owed compensations that are due. */
  sweepInterval: durationMs.default(500).pipe(z.number().min(10).max(60_000)),
  /** Backoff before the first retry, before jitter (full jitter: a retry comes anywhere in [0, delay]). */
  baseDelay: durationMs.default(500).pipe(z.number().min(1).max(3_600_000)),
  /**
   * No backoff exceeds this. Short by default: a scenario's recovery phase
   * lasts seconds, and an order still owing at the end of a run breaks the books.
   */
  maxDelay: durationMs.default(5_000).pipe(z.number().min(1).max(3_600_000)),
  /** Orders retried per sweep, most overdue first (the rest wait for the next sweep). */
  maxPerSweep: z.int().min(1).max(1_000).default(20),
});
export type CompensationPolicy = z.infer<typeof compensationPolicySchema>;

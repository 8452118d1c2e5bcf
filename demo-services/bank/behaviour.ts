// The bank's own behaviour, as a scenario sets it (services.bank.behaviour) or
// a fault timeline changes it (/admin/behaviour): its latency, a share of
// charges it fails, and its rate limit. A real card processor's API admits so
// many charges a second, with a small burst, and answers the rest 429 with
// Retry-After. The limit counts arrivals, not how fast the bank works, so a
// slow machine does not move it: a crowd of charges released in the same
// instant after an outage exceeds it, the same charges spread over a few
// seconds do not.

import { z } from 'zod';
import { durationMs, ratio } from '../kit/schema.ts';
import { createRateLimiter } from '../gateway/token-bucket.ts';

export const bankBehaviourSchema = z.strictObject({
  latency: durationMs.default(0),
  jitter: durationMs.default(0),
  /** Share of charges answered 503 (before anything is charged). */
  failureRate: ratio.default(0),
  /** Charges admitted: `burst` at once, refilled at `ratePerSecond` (a token bucket); one more is answered 429. Unlimited when absent. */
  rateLimit: z.strictObject({ ratePerSecond: z.number().positive().max(100_000), burst: z.int().min(1).max(100_000) }).optional(),
});
export type BankBehaviour = z.infer<typeof bankBehaviourSchema>;

/** Admits charges within the behaviour's rate limit; follows the limit when the behaviour changes at run time. */
export interface ChargeAdmission {
  /** Undefined when admitted; else how long until the next charge would be (for Retry-After). */
  refuse(limit: BankBehaviour['rateLimit']): number | undefined;
}

export function createChargeAdmission(now: () => number = () => performance.now()): ChargeAdmission {
  let current: { key: string; limiter: ReturnType<typeof createRateLimiter> } | undefined;
  return {
    refuse(limit) {
      if (!limit) return undefined;
      const key = `${limit.ratePerSecond}/${limit.burst}`;
      // A new limit starts with a full bucket, as a changed plan at the bank would.
      if (current?.key !== key) current = { key, limiter: createRateLimiter(limit, now) };
      const admission = current.limiter.take('bank');
      return admission.allowed ? undefined : admission.retryAfterMs;
    },
  };
}

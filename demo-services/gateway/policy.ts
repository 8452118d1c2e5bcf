// The gateway's knobs, each switchable per scenario: bearer auth, per-client
// rate limiting, load shedding, per-route timeouts, how replicas are balanced
// (and ejected when they fail) and the recommendations' fallback.

import { z } from 'zod';
import { durationMs } from '../kit/schema.ts';

export const gatewayPolicySchema = z.strictObject({
  auth: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** HS256 secret; the lab generates one per run. */
      secret: z.string().min(16).optional(),
    })
    .prefault({}),
  rateLimit: z
    .strictObject({
      enabled: z.boolean().default(true),
      ratePerSecond: z.number().positive().default(20),
      burst: z.int().min(1).default(40),
    })
    .prefault({}),
  loadShedding: z
    .strictObject({
      enabled: z.boolean().default(true),
      maxInFlight: z.int().min(1).default(256),
    })
    .prefault({}),
  routeTimeout: durationMs.default(5_000),
  /** Recommendations are non-critical: past this, the storefront shows popular items instead. */
  recommendationTimeout: durationMs.default(300),
  /** Off: a failed or slow recommendation call is the storefront's error (502, or 504 at the route timeout), as for any other route. */
  recommendationFallback: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
  balancing: z
    .strictObject({
      strategy: z.enum(['round-robin', 'least-outstanding']).default('least-outstanding'),
      consecutiveFailures: z.int().min(1).default(5),
      ejection: durationMs.default(5_000),
    })
    .prefault({}),
  /**
   * Active health checks: the gateway polls each replica's /readyz every `interval` and sends no
   * requests to one that answers anything but a 2xx within `timeout`. Off: readiness is not asked.
   */
  healthChecks: z
    .strictObject({
      enabled: z.boolean().default(true),
      interval: durationMs.pipe(z.number().min(50).max(60_000)).default(1_000),
      timeout: durationMs.pipe(z.number().min(10).max(60_000)).default(500),
    })
    .prefault({}),
  /**
   * Passive health checks over the balanced replicas (Envoy's outlier detection): an instance is
   * ejected after `balancing.consecutiveFailures` failures in a row, or when at least
   * `failurePercentage` of its last `requestVolume` requests failed. Off: never ejected.
   */
  outlierDetection: z
    .strictObject({
      enabled: z.boolean().default(true),
      failurePercentage: z.number().min(1).max(100).default(50),
      requestVolume: z.int().min(2).max(10_000).default(10),
    })
    .prefault({}),
  /**
   * Quarantine of queries of death (quarantine.ts): a read of one record (GET /api/products/:sku) that was on a replica when it died
   * is not retried, and its key (the dependency's path) is quarantined for `duration` once convicted:
   * at once when it was the only read on the dying replica, else after `strikes` such deaths.
   * Quarantined reads are answered 503 `quarantined` without reaching the dependency. Off unless a
   * scenario turns it on: its judgement needs replicas that die of what they are sent.
   */
  quarantine: z
    .strictObject({
      enabled: z.boolean().default(false),
      duration: durationMs.pipe(z.number().min(1).max(3_600_000)).default(30_000),
      strikes: z.int().min(1).max(10).default(2),
    })
    .prefault({}),
});

export type GatewayPolicy = z.infer<typeof gatewayPolicySchema>;

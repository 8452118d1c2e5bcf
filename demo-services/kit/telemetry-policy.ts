// How a service's spans leave it, as a scenario sets it (services.<name>.asyncTelemetry):
// - enabled (the default, the pattern): off the request path. Ended spans wait
//   in the BatchSpanProcessor's bounded queue and leave in batches; a collector
//   that is gone or frozen costs dropped spans (counted), never a request's time.
// - disabled (`--disable asyncTelemetry`, the serverless habit): every span is
//   exported as it ends (span-export.ts, EachSpanProcessor) and each answer
//   waits until the export of its own spans has finished (a flush before the
//   response), so a frozen collector holds every request for up to the export
//   timeout.
// The export timeout bounds one export call in both modes.

import { z } from 'zod';
import { durationMs, formatIssues } from './schema.ts';

/** The lab's span export settings: see span-export.ts and docs/benchmarks.md for how they were chosen. Here, not there, so the runner can read them without loading the SDK. */
export const SPAN_EXPORT_DEFAULTS = { scheduledDelayMillis: 500, maxExportBatchSize: 512, maxQueueSize: 4096, timeoutMillis: 10_000 } as const;

export const asyncTelemetryPolicySchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Spans waiting to be sent (disabled: span exports in flight), at most; past it spans are dropped (counted). */
  maxQueueSize: z.int().min(1).max(1_000_000).default(SPAN_EXPORT_DEFAULTS.maxQueueSize),
  /** Deadline of one export call to the collector. */
  exportTimeout: durationMs.pipe(z.number().min(10).max(120_000)).default(SPAN_EXPORT_DEFAULTS.timeoutMillis),
});

export type AsyncTelemetryPolicy = z.infer<typeof asyncTelemetryPolicySchema>;

/** The policy from a service's config (policies.asyncTelemetry); the defaults when absent; an Error naming every bad field otherwise. */
export function parseAsyncTelemetryPolicy(raw: unknown): AsyncTelemetryPolicy {
  const parsed = asyncTelemetryPolicySchema.safeParse(raw ?? {});
  if (!parsed.success) throw new Error(formatIssues(parsed.error, 'policies.asyncTelemetry').join('; '));
  return parsed.data;
}

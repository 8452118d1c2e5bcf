// The collector's options as typed data, validated once at the edge (the
// programmatic API and main.ts share this schema), with every bad field
// reported in one error and defaults filled in one place.
import { z } from 'zod';
import { CollectorError } from './collector-error.ts';

/** The environment variable main.ts reads its config (JSON of these options) from. */
export const COLLECTOR_CONFIG_ENV = 'FAULTLINE_COLLECTOR_CONFIG';

const port = z.number().int().min(0).max(65_535);

export const collectorConfigSchema = z.strictObject({
  /** Interface the OTLP/gRPC receiver binds. */
  host: z.string().min(1).default('127.0.0.1'),
  /** OTLP/gRPC port; 0 picks a free one. */
  grpcPort: port.default(4317),
  /** Admin HTTP port (/metrics, /healthz), always on 127.0.0.1; 0 picks a free one. */
  httpPort: port.default(0),
  /** Directory of the run; spans go to `<runDir>/traces.jsonl`. */
  runDir: z.string().min(1),
  /** Spans accepted but not yet written that the collector holds before it drops new ones. */
  maxQueuedSpans: z.number().int().positive().default(20_000),
  /** How long accepted spans may wait in memory before they are written. */
  flushIntervalMs: z.number().int().positive().max(3_600_000).default(200),
});

export type CollectorConfigInput = z.input<typeof collectorConfigSchema>;
export type CollectorConfig = Readonly<z.output<typeof collectorConfigSchema>>;

/** Validate raw options (from code or from JSON); throws CollectorError INVALID_CONFIG naming every bad field. */
export function parseCollectorConfig(raw: unknown): CollectorConfig {
  const result = collectorConfigSchema.safeParse(raw);
  if (result.success) return Object.freeze(result.data);
  const problems = result.error.issues.flatMap((issue) => {
    const prefix = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${[...prefix, key].join('.')}: unknown option`);
    return [`${prefix.length > 0 ? prefix.join('.') : '(config)'}: ${issue.message}`];
  });
  throw new CollectorError('INVALID_CONFIG', `invalid collector config: ${problems.join('; ')}`);
}

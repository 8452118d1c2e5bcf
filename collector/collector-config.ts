// The collector's options as typed data, validated once at the edge (the
// programmatic API and main.ts share this schema), with every bad field
// reported in one error and defaults filled in one place.
import { z } from 'zod';
import { CollectorError } from './collector-error.ts';

/** The environment variable main.ts reads its config (JSON of these options) from. */
export const COLLECTOR_CONFIG_ENV = 'FAULTLINE_COLLECTOR_CONFIG';

const port = z.number().int().min(0).max(65_535);

export const collectorConfigSchema = z.strictObject({
  /** Interface the OTLP receivers (gRPC and HTTP) bind. */
  host: z.string().min(1).default('127.0.0.1'),
  /** OTLP/gRPC port; 0 picks a free one. */
  grpcPort: port.default(4317),
  /**
   * OTLP/HTTP port (POST /v1/traces, /v1/metrics, /v1/logs); 0 picks a free
   * one, the default, so that concurrent runs never collide (`up` asks for 4318).
   */
  otlpHttpPort: port.default(0),
  /** Admin HTTP port (/metrics, /healthz), always on 127.0.0.1; 0 picks a free one. */
  httpPort: port.default(0),
  /** Directory of the run; signals go to `<runDir>/traces.jsonl`, `metrics.jsonl`, `logs.jsonl`. */
  runDir: z.string().min(1),
  /**
   * The memory bound: items (spans, metric data points, log records, all
   * signals together) accepted but not yet written. A request that does not
   * fit is cut (partial success); one arriving at a full queue is refused as
   * retryable (gRPC RESOURCE_EXHAUSTED, HTTP 503 with Retry-After).
   */
  maxQueuedItems: z.number().int().positive().default(20_000),
  /** Largest export request accepted, compressed or not (gRPC and HTTP). */
  maxRequestBytes: z.number().int().positive().max(256 * 1024 * 1024).default(16 * 1024 * 1024),
  /** How long accepted spans may wait in memory before they are written. */
  flushIntervalMs: z.number().int().positive().max(3_600_000).default(200),
  /**
   * Cap each signal's file by size: rotated (traces.1.jsonl ...) once it holds
   * maxFileBytes, with keepFiles rotated files kept, so a signal takes at most
   * about (keepFiles + 1) x maxFileBytes. What a rotation deletes is counted
   * (collector_discarded_total). Absent (the default, as in `run`): keep everything.
   */
  rotation: z
    .strictObject({
      maxFileBytes: z.number().int().min(1024),
      keepFiles: z.number().int().min(1).max(100).default(4),
    })
    .optional(),
  /** Also send every accepted request to an upstream OTLP endpoint; its failures are counted, never fatal. */
  forward: z
    .strictObject({
      /** Base URL: `http://host:4318` for http/protobuf (the /v1/<signal> paths are added), `http://host:4317` for grpc. */
      endpoint: z.url({ protocol: /^https?$/ }),
      protocol: z.enum(['http/protobuf', 'grpc']).default('http/protobuf'),
      /** Export requests in flight at once; more are dropped and counted as forward failures. */
      maxInFlight: z.number().int().positive().max(1_000).default(16),
      timeoutMs: z.number().int().positive().max(60_000).default(5_000),
    })
    .optional(),
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

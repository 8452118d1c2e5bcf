// Tracing for a lab process, set up the way the OpenTelemetry documentation
// sets up a Node service: @opentelemetry/sdk-node's NodeSDK with W3C trace
// context and baggage, spans batched to the collector by the OTLP/gRPC trace
// exporter (span-export.ts), log records batched by the OTLP/gRPC log exporter
// (logger.ts feeds pino's records to the logger provider registered here),
// the gRPC instrumentation (both sides), and the kit's own HTTP server and
// client spans (http-tracing.ts). Metrics stay with prom-client (metrics.ts),
// so the SDK gets no metric reader.
// It must run before grpc-js is loaded, which is why services start with
// `--import demo-services/kit/instrument.ts`.
// The SDK packages are imported dynamically so a process with telemetry off
// (the benchmark baseline) never pays for loading them.

import { logs, trace, type Logger as OtlpLogger } from '@opentelemetry/api';
import type { ServiceConfig } from './config.ts';
import { disableHttpTracing, enableHttpTracing } from './http-tracing.ts';
import type { SpanExportStats } from './span-export.ts';
import { parseAsyncTelemetryPolicy } from './telemetry-policy.ts';

let flushAndShutdown: ((timeoutMillis: number) => Promise<void>) | undefined;
let flushSpans: ((traceId: string) => Promise<void>) | undefined;

/**
 * With asyncTelemetry off (telemetry-policy.ts): what an answer must wait for before it is sent,
 * the export of every span of its trace ended in this process so far; undefined when spans leave
 * off the request path (the default) or telemetry is off.
 */
export function spanFlushBeforeAnswer(): ((traceId: string) => Promise<void>) | undefined {
  return flushSpans;
}
let otlpLogger: OtlpLogger | undefined;
let spanExport: { stats(): SpanExportStats } | undefined;

/** What the span exporter has delivered and dropped so far; zeros when telemetry is off. */
export function spanExportStats(): SpanExportStats {
  return spanExport?.stats() ?? { exported: 0, dropped: 0, failedCalls: 0 };
}

/** Where log records go over OTLP, once initTelemetry set it up with a collector endpoint; else undefined. */
export function otlpLogSink(): OtlpLogger | undefined {
  return otlpLogger;
}

/**
 * How log records are batched for export: every 500 ms, or as soon as 128 are
 * waiting (the SDK's default is 512), so that under load records leave the
 * process before V8 promotes them out of its young generation. Spans are
 * batched by span-export.ts, for the same reason.
 */
const LOG_BATCHING = { scheduledDelayMillis: 500, maxExportBatchSize: 128 } as const;

/**
 * Span limits: the SDK's defaults (128 attributes, events and links per span)
 * are far above what a lab span carries, except attribute values, which are
 * cut at 1 KiB so that no request (a long URL, an error message) makes a span
 * the collector has to cut.
 */
const SPAN_LIMITS = { attributeValueLengthLimit: 1024 } as const;

/** How long shutdown waits for the last spans and log records; a gone collector must not hold up the exit. */
const SHUTDOWN_TIMEOUT_MILLIS = 2_000;

/** The resource every signal of a lab process carries. */
function resourceAttributes(config: ServiceConfig): Record<string, string> {
  return { 'service.name': config.name, 'service.instance.id': config.instance, 'service.namespace': 'faultline' };
}

export async function initTelemetry(config: ServiceConfig): Promise<void> {
  if (!config.telemetry) return;
  const [
    { NodeSDK },
    { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator },
    { resourceFromAttributes },
    { BatchLogRecordProcessor },
    { OTLPLogExporter },
    { createSpanExport },
    { GrpcInstrumentation },
    { dependencyOrigins, grpcDependencyNamer, UNTRACED_GRPC_METHODS },
  ] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-logs'),
    import('@opentelemetry/exporter-logs-otlp-grpc'),
    import('./span-export.ts'),
    import('@opentelemetry/instrumentation-grpc'),
    import('./grpc-telemetry.ts'),
  ]);

  const endpoint = config.otlpEndpoint;
  const policy = parseAsyncTelemetryPolicy(config.policies.asyncTelemetry);
  const spans = endpoint
    ? createSpanExport({ endpoint, maxQueueSize: policy.maxQueueSize, timeoutMillis: policy.exportTimeout, processor: policy.enabled ? 'batch' : 'each' })
    : undefined;
  spanExport = spans;
  // A failed export is already counted as dropped; the answer goes out either way.
  flushSpans = spans?.flushTrace;
  const sdk = new NodeSDK({
    // The lab's own resource, and no detectors: host and process attributes
    // would differ between the runs a report compares, and say nothing here.
    resource: resourceFromAttributes(resourceAttributes(config)),
    autoDetectResources: false,
    textMapPropagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    spanProcessors: [grpcDependencyNamer(dependencyOrigins(config)), ...(spans ? [spans.processor] : [])],
    spanLimits: SPAN_LIMITS,
    logRecordProcessors: endpoint ? [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint }), ...LOG_BATCHING })] : [],
    // prom-client serves the metrics (metrics.ts); without this the SDK would start an OTLP metric exporter.
    metricReaders: [],
    // Client and server spans of gRPC hops, W3C context in the metadata. No
    // HTTP, undici or express instrumentation: http-tracing.ts makes those spans
    // at a fraction of the cost (docs/benchmarks.md).
    instrumentations: [new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_GRPC_METHODS })],
  });
  sdk.start();
  otlpLogger = endpoint ? logs.getLogger('faultline-pino') : undefined;
  enableHttpTracing(trace.getTracerProvider());

  flushAndShutdown = async (timeoutMillis) => {
    flushSpans = undefined;
    disableHttpTracing();
    otlpLogger = undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMillis);
    });
    // NodeSDK.shutdown flushes the batch processors, then closes the exporters.
    // What it could not deliver is already counted as dropped (spanExportStats).
    const shutdown = sdk.shutdown().catch(() => {});
    await Promise.race([shutdown, timeout]).finally(() => clearTimeout(timer));
  };
}

/**
 * Flush every pending span and log record and stop exporting, waiting at
 * most `timeoutMillis` (a collector that is gone cannot hold up the exit);
 * safe to call when telemetry is off.
 */
export async function shutdownTelemetry(timeoutMillis = SHUTDOWN_TIMEOUT_MILLIS): Promise<void> {
  const shutdown = flushAndShutdown;
  flushAndShutdown = undefined;
  await shutdown?.(timeoutMillis);
}

export const tracer = () => trace.getTracer('faultline');

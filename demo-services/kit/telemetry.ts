// Tracing for a lab process: OpenTelemetry SDK, W3C trace context and baggage,
// OTLP/gRPC export of spans (span-export.ts) and logs to the collector
// (logger.ts feeds pino's records to the log provider set up here), the kit's
// own HTTP server and client spans (http-tracing.ts), and the gRPC
// instrumentation (both sides).
// It must run before grpc-js is loaded, which is why services start with
// `--import demo-services/kit/instrument.ts`.
// The SDK packages are imported dynamically so a process with telemetry off
// (the benchmark baseline) never pays for loading them.

import { context, propagation, trace } from '@opentelemetry/api';
import type { Logger as OtlpLogger } from '@opentelemetry/api-logs';
import type { ServiceConfig } from './config.ts';
import { disableHttpTracing, enableHttpTracing } from './http-tracing.ts';
import type { SpanExportStats } from './span-export.ts';

let flushAndShutdown: (() => Promise<void>) | undefined;
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
 * encoded as they end and batched by span-export.ts.
 */
const LOG_BATCHING = { scheduledDelayMillis: 500, maxExportBatchSize: 128 } as const;

/** The resource every signal of a lab process carries. */
function resourceAttributes(config: ServiceConfig): Record<string, string> {
  return { 'service.name': config.name, 'service.instance.id': config.instance, 'service.namespace': 'faultline' };
}

/** A log provider batching records to the collector over OTLP/gRPC. */
async function startOtlpLogs(config: ServiceConfig, endpoint: string): Promise<{ shutdown(): Promise<void> }> {
  const [{ resourceFromAttributes }, { BatchLogRecordProcessor, LoggerProvider }, { OTLPLogExporter }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-logs'),
    import('@opentelemetry/exporter-logs-otlp-grpc'),
  ]);
  const provider = new LoggerProvider({
    resource: resourceFromAttributes(resourceAttributes(config)),
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint }), ...LOG_BATCHING })],
  });
  otlpLogger = provider.getLogger('faultline-pino');
  return {
    async shutdown() {
      otlpLogger = undefined;
      await provider.shutdown();
    },
  };
}

export async function initTelemetry(config: ServiceConfig): Promise<void> {
  if (!config.telemetry) return;
  const [
    { AsyncLocalStorageContextManager },
    { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator },
    { resourceFromAttributes },
    { TracerProvider },
    { EncodingSpanProcessor },
    { registerInstrumentations },
    { GrpcInstrumentation },
    { dependencyOrigins, grpcDependencyNamer, UNTRACED_GRPC_METHODS },
  ] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('./span-export.ts'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-grpc'),
    import('./grpc-telemetry.ts'),
  ]);

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const exporter = config.otlpEndpoint ? new EncodingSpanProcessor({ endpoint: config.otlpEndpoint }) : undefined;
  spanExport = exporter;
  const spanProcessors = exporter ? [exporter] : [];
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resourceAttributes(config)),
    spanProcessors: [grpcDependencyNamer(dependencyOrigins(config)), ...spanProcessors],
  });
  trace.setGlobalTracerProvider(provider);
  const logs = config.otlpEndpoint ? await startOtlpLogs(config, config.otlpEndpoint) : undefined;

  enableHttpTracing(provider);
  registerInstrumentations({
    tracerProvider: provider,
    // Client and server spans of gRPC hops, W3C context in the metadata. No
    // HTTP, undici or express instrumentation: http-tracing.ts makes those spans
    // at a fraction of the cost (docs/benchmarks.md).
    instrumentations: [new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_GRPC_METHODS })],
  });

  flushAndShutdown = async () => {
    disableHttpTracing();
    await provider.forceFlush();
    await Promise.all([provider.shutdown(), logs?.shutdown()]);
  };
}

/** Flush every pending span and log record and stop exporting; safe to call when telemetry is off. */
export async function shutdownTelemetry(): Promise<void> {
  await flushAndShutdown?.();
}

export const tracer = () => trace.getTracer('faultline');

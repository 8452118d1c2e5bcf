// Tracing for a lab process: OpenTelemetry SDK, W3C trace context and baggage,
// OTLP/gRPC export of spans and logs to the collector (logger.ts feeds pino's
// records to the log provider set up here), and the HTTP (server), undici (client)
// and gRPC (both sides) instrumentations. It must run before http, undici or grpc-js is loaded,
// which is why services start with `--import demo-services/kit/instrument.ts`.
// The SDK packages are imported dynamically so a process with telemetry off
// (the benchmark baseline) never pays for loading them.

import { context, propagation, trace } from '@opentelemetry/api';
import type { Logger as OtlpLogger } from '@opentelemetry/api-logs';
import type { ServiceConfig } from './config.ts';
import { SPAN_ATTR } from './conventions.ts';

/** Paths that are scraped or probed, not served: no spans for them. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

let flushAndShutdown: (() => Promise<void>) | undefined;
let otlpLogger: OtlpLogger | undefined;

/** Where log records go over OTLP, once initTelemetry set it up with a collector endpoint; else undefined. */
export function otlpLogSink(): OtlpLogger | undefined {
  return otlpLogger;
}

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
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter({ url: endpoint }), scheduledDelayMillis: 500 })],
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
    { BatchSpanProcessor, TracerProvider },
    { OTLPTraceExporter },
    { registerInstrumentations },
    { HttpInstrumentation },
    { UndiciInstrumentation },
    { GrpcInstrumentation },
    { dependencyOrigins, grpcDependencyNamer, UNTRACED_GRPC_METHODS },
  ] = await Promise.all([
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-grpc'),
    import('@opentelemetry/instrumentation'),
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-grpc'),
    import('./grpc-telemetry.ts'),
  ]);

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  const spanProcessors = config.otlpEndpoint
    ? [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: config.otlpEndpoint }), scheduledDelayMillis: 500 })]
    : [];
  const provider = new TracerProvider({
    resource: resourceFromAttributes(resourceAttributes(config)),
    spanProcessors: [grpcDependencyNamer(dependencyOrigins(config)), ...spanProcessors],
  });
  trace.setGlobalTracerProvider(provider);
  const logs = config.otlpEndpoint ? await startOtlpLogs(config, config.otlpEndpoint) : undefined;

  // Client spans name the dependency they call, so traces can be queried by
  // dependency rather than by ephemeral port.
  const dependencyByOrigin = new Map(
    Object.entries(config.dependencies).flatMap(([name, urls]) => (Array.isArray(urls) ? urls : [urls]).map((url) => [new URL(url).origin, name] as const)),
  );
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.has((request.url ?? '').split('?')[0] ?? ''),
        // Outgoing calls go through undici, whose instrumentation makes the client spans.
        ignoreOutgoingRequestHook: () => true,
      }),
      // No express instrumentation: it wraps every layer of every request and adds
      // a span per route handler that repeats the server span. The kit names the
      // server span by its route instead (service.ts), for about half the cost.
      // Client and server spans of gRPC hops, W3C context in the metadata.
      new GrpcInstrumentation({ ignoreGrpcMethods: UNTRACED_GRPC_METHODS }),
      new UndiciInstrumentation({
        startSpanHook: (request) => {
          const dependency = dependencyByOrigin.get(request.origin.toString());
          return dependency ? { [SPAN_ATTR.dependency]: dependency, 'peer.service': dependency } : {};
        },
      }),
    ],
  });

  flushAndShutdown = async () => {
    await provider.forceFlush();
    await Promise.all([provider.shutdown(), logs?.shutdown()]);
  };
}

/** Flush every pending span and log record and stop exporting; safe to call when telemetry is off. */
export async function shutdownTelemetry(): Promise<void> {
  await flushAndShutdown?.();
}

export const tracer = () => trace.getTracer('faultline');

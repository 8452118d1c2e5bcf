// How a lab process's spans leave it: the SDK's BatchSpanProcessor in front of
// the OTLP/gRPC trace exporter (@opentelemetry/exporter-trace-otlp-grpc), as
// any Node service set up by the OpenTelemetry documentation, with the knobs
// the lab sets (docs/benchmarks.md, "Cost of instrumentation"):
// - a batch leaves as soon as maxExportBatchSize spans are waiting, or
//   scheduledDelayMillis after the first; under load batches fill by size,
//   and fewer, larger Export calls cost the service and the collector less
//   than many small ones (measured: 512 spans against 128, same run); the
//   delay is 500 ms rather than the SDK's 5 s so that a trace is queryable
//   soon after its request at lab rates;
// - at most maxQueueSize spans wait; past that the processor drops spans
//   (never blocks a request), so an absent collector costs bounded memory;
// - one Export call at a time, each with a deadline of timeoutMillis. The
//   SDK's gRPC exporter does not retry: a batch the collector refuses or
//   cannot take is dropped, and counted.
// What was delivered and what was dropped is read from the processor's own
// self-observability counter (otel.sdk.processor.span.processed, with
// error.type on the spans it could not deliver), kept here as three numbers
// that the service's /metrics reports at scrape time.

import { context, createNoopMeter, TraceFlags, type Attributes, type Counter, type Meter, type MeterProvider, type MetricOptions } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { SPAN_EXPORT_DEFAULTS } from './telemetry-policy.ts';

/** The span processor's self-observability counter (semantic conventions, otel.sdk.* metrics). */
const PROCESSED_SPANS = 'otel.sdk.processor.span.processed';
/** error.type the processor gives the spans it drops because its queue is full. */
const QUEUE_FULL = 'queue_full';

export interface SpanExportOptions {
  /** The collector's OTLP/gRPC endpoint, `http://host:port`. */
  endpoint: string;
  /** Longest time an ended span waits before its batch is sent. Default 500 ms. */
  scheduledDelayMillis?: number;
  /** Spans that fill a batch. Default 512. */
  maxExportBatchSize?: number;
  /** Spans waiting to be sent (or, with processor `each`, exports in flight), at most; spans past it are dropped. Default 4096. */
  maxQueueSize?: number;
  /** Time one batch may take, retries included. Default 10 s. */
  timeoutMillis?: number;
  /**
   * `batch` (default): the BatchSpanProcessor above. `each`: every span exported as it ends, no
   * queue (EachSpanProcessor), as a service does that flushes its spans before each answer
   * (telemetry-policy.ts, asyncTelemetry off); its failed exports are counted as dropped too.
   */
  processor?: 'batch' | 'each';
}

export interface SpanExportStats {
  /** Spans the collector accepted. */
  exported: number;
  /** Spans dropped: queue full, or a batch the exporter gave up on. */
  dropped: number;
  /** Export calls that failed after the exporter's own retries. */
  failedCalls: number;
}

export { SPAN_EXPORT_DEFAULTS };

/**
 * A MeterProvider for the processor's self-observability that keeps only the
 * processed-spans counter, as three numbers; every other instrument is a no-op.
 */
export class SpanExportCounts implements MeterProvider {
  readonly #stats: SpanExportStats = { exported: 0, dropped: 0, failedCalls: 0 };
  readonly #meter: Meter;

  constructor() {
    // createNoopMeter() is one shared instance: this meter inherits from it rather than changing it.
    const noop = createNoopMeter();
    const processed: Counter = {
      add: (spans: number, attributes?: Attributes) => this.#record(spans, attributes?.['error.type']),
    };
    const meter = Object.create(noop) as Meter;
    meter.createCounter = <T extends Attributes>(name: string, options?: MetricOptions): Counter<T> =>
      name === PROCESSED_SPANS ? (processed as Counter<T>) : noop.createCounter<T>(name, options);
    this.#meter = meter;
  }

  getMeter(): Meter {
    return this.#meter;
  }

  stats(): SpanExportStats {
    return { ...this.#stats };
  }

  #record(spans: number, errorType: unknown): void {
    if (errorType === undefined) this.#stats.exported += spans;
    else {
      this.#stats.dropped += spans;
      // One add per failed export call; queue-full drops are counted one span at a time.
      if (errorType !== QUEUE_FULL) this.#stats.failedCalls += 1;
    }
  }
}

/**
 * Exports every sampled span as it ends (as the SDK's SimpleSpanProcessor does) and keeps each
 * trace's exports in flight, so that a request can wait for its own spans, and only those:
 * `flushTrace` before the answer is telemetry in the request path, one request at a time, as in a
 * serverless handler, without one request's wait becoming every other's. Each export's outcome is
 * counted as the SDK counts it (otel.sdk.processor.span.processed, error.type on a failure).
 */
export class EachSpanProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  readonly #processed: Counter;
  readonly #inFlight = new Map<string, Set<Promise<void>>>();

  constructor(exporter: SpanExporter, meterProvider: MeterProvider) {
    this.#exporter = exporter;
    this.#processed = meterProvider.getMeter('@opentelemetry/sdk-trace').createCounter(PROCESSED_SPANS);
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    const { traceId, traceFlags } = span.spanContext();
    if ((traceFlags & TraceFlags.SAMPLED) === 0) return;
    const exported = new Promise<void>((resolve) => {
      // The export's own calls (gRPC) must not make spans of their own.
      context.with(suppressTracing(context.active()), () =>
        this.#exporter.export([span], (result) => {
          this.#processed.add(1, result.error ? { 'error.type': result.error.name || 'Error' } : {});
          resolve();
        }),
      );
    });
    const pending = this.#inFlight.get(traceId) ?? new Set<Promise<void>>();
    this.#inFlight.set(traceId, pending);
    pending.add(exported);
    void exported.then(() => {
      pending.delete(exported);
      if (pending.size === 0 && this.#inFlight.get(traceId) === pending) this.#inFlight.delete(traceId);
    });
  }

  /** Resolves once every export of this trace's spans ended so far has finished, delivered or not. */
  async flushTrace(traceId: string): Promise<void> {
    await Promise.all([...(this.#inFlight.get(traceId) ?? [])]);
  }

  async forceFlush(): Promise<void> {
    await Promise.all([...this.#inFlight.values()].flatMap((pending) => [...pending]));
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    await this.#exporter.shutdown();
  }
}

/** The span processor (batching unless told otherwise) and OTLP/gRPC exporter for the collector at `options.endpoint`, and its counts. */
export function createSpanExport(options: SpanExportOptions): { processor: SpanProcessor; stats(): SpanExportStats; flushTrace?: (traceId: string) => Promise<void> } {
  const settings = { ...SPAN_EXPORT_DEFAULTS, ...options };
  const counts = new SpanExportCounts();
  const each = settings.processor === 'each';
  // One export per span: as many may be in flight as spans may wait in a batching queue (the
  // exporter's default of 30 would fail the rest at once, and a merely slow collector lose spans).
  const exporter = new OTLPTraceExporter({ url: settings.endpoint, timeoutMillis: settings.timeoutMillis, ...(each ? { concurrencyLimit: settings.maxQueueSize } : {}) });
  if (each) {
    const processor = new EachSpanProcessor(exporter, counts);
    return { processor, stats: () => counts.stats(), flushTrace: (traceId) => processor.flushTrace(traceId) };
  }
  const processor = new BatchSpanProcessor({
    exporter,
    scheduledDelayMillis: settings.scheduledDelayMillis,
    maxExportBatchSize: settings.maxExportBatchSize,
    maxQueueSize: settings.maxQueueSize,
    // The processor's own deadline on a batch; the exporter's timeout (retries included) ends first.
    exportTimeoutMillis: settings.timeoutMillis + 1_000,
    selfObsMeterProvider: counts,
  });
  return { processor, stats: () => counts.stats() };
}

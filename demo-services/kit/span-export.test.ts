import { SpanKind } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { CollectorError } from '../../collector/collector-error.ts';
import { startGrpcReceiver, type GrpcReceiver } from '../../collector/grpc-receiver.ts';
import { traceRequestToOtlpJson } from '../../collector/otlp-json.ts';
import type { DecodedExportRequest } from '../../collector/otlp-signals.ts';
import { createSampleProvider, emitSampleTrace } from '../../collector/test-fixtures.ts';
import { countTraceRequestSpans, decodeTraceExportRequest } from '../../collector/trace-request.ts';
import type { DecodedExportTraceServiceRequest } from '../../collector/otlp-schema.ts';
import { EncodingSpanProcessor, grpcTarget, rejectedSpansOf } from './span-export.ts';

interface Received {
  receiver: GrpcReceiver;
  requests: DecodedExportRequest[];
  spans(): number;
}

const receivers: GrpcReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.close(0)));
});

/** The collector's own OTLP/gRPC receiver on an ephemeral port, keeping what it is sent; `refuse` decides per call. */
async function startCollectorReceiver(port = 0, refuse: (call: number) => 'overloaded' | 'half' | undefined = () => undefined): Promise<Received> {
  const requests: DecodedExportRequest[] = [];
  let calls = 0;
  const receiver = await startGrpcReceiver({
    host: '127.0.0.1',
    port,
    onExport: (_signal, request) => {
      calls += 1;
      const refusal = refuse(calls);
      if (refusal === 'overloaded') throw new CollectorError('OVERLOADED', 'full');
      requests.push(request);
      const spans = countTraceRequestSpans(request as DecodedExportTraceServiceRequest);
      return refusal === 'half' ? { rejectedItems: Math.floor(spans / 2), errorMessage: 'kept half' } : { rejectedItems: 0 };
    },
  });
  receivers.push(receiver);
  return { receiver, requests, spans: () => requests.reduce((sum, request) => sum + countTraceRequestSpans(request as DecodedExportTraceServiceRequest), 0) };
}

function emitSpans(provider: TracerProvider, count: number): void {
  const tracer = provider.getTracer('load');
  for (let i = 0; i < count; i++) {
    tracer.startSpan(`GET /items/${i}`, { kind: SpanKind.SERVER, attributes: { 'url.path': `/items/${i}`, 'http.response.status_code': 200 } }).end();
  }
}

describe('span export to the collector', () => {
  it('delivers the spans the SDK would, over OTLP/gRPC to the collector receiver', async () => {
    const collector = await startCollectorReceiver();
    const processor = new EncodingSpanProcessor({ endpoint: `http://127.0.0.1:${collector.receiver.port}` });
    const { provider, memory } = createSampleProvider([processor]);
    emitSampleTrace(provider, memory);
    await provider.forceFlush();

    expect(collector.requests).toHaveLength(1);
    const reference = decodeTraceExportRequest(ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) as Uint8Array);
    expect(traceRequestToOtlpJson(collector.requests[0] as DecodedExportTraceServiceRequest)).toEqual(traceRequestToOtlpJson(reference));
    expect(processor.stats()).toEqual({ exported: 3, dropped: 0, failedCalls: 0 });
    await provider.shutdown();
  });

  it('splits a stream of spans into batches by size and loses none', async () => {
    const collector = await startCollectorReceiver();
    const processor = new EncodingSpanProcessor({ endpoint: `127.0.0.1:${collector.receiver.port}`, maxBatchBytes: 4096 });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    emitSpans(provider, 1_000);
    await provider.forceFlush();

    expect(collector.spans()).toBe(1_000);
    expect(collector.requests.length).toBeGreaterThan(10);
    expect(processor.stats().exported).toBe(1_000);
    await provider.shutdown();
  });

  it('sends a partly filled batch once the scheduled delay has passed, without a flush', async () => {
    const collector = await startCollectorReceiver();
    const processor = new EncodingSpanProcessor({ endpoint: `127.0.0.1:${collector.receiver.port}`, scheduledDelayMillis: 50 });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    emitSpans(provider, 3);
    const deadline = Date.now() + 5_000;
    while (collector.spans() < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(collector.spans()).toBe(3);
    await provider.shutdown();
  });

  it('retries a collector that says it is overloaded, then delivers', async () => {
    const collector = await startCollectorReceiver(0, (call) => (call <= 2 ? 'overloaded' : undefined));
    const processor = new EncodingSpanProcessor({ endpoint: `127.0.0.1:${collector.receiver.port}`, initialBackoffMillis: 20 });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    emitSpans(provider, 10);
    await provider.forceFlush();

    expect(collector.spans()).toBe(10);
    expect(processor.stats()).toEqual({ exported: 10, dropped: 0, failedCalls: 2 });
    await provider.shutdown();
  });

  it('counts the spans a collector refuses in a partial success as dropped', async () => {
    const collector = await startCollectorReceiver(0, () => 'half');
    const processor = new EncodingSpanProcessor({ endpoint: `127.0.0.1:${collector.receiver.port}` });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    emitSpans(provider, 10);
    await provider.forceFlush();

    expect(processor.stats()).toEqual({ exported: 5, dropped: 5, failedCalls: 0 });
    await provider.shutdown();
  });

  it('with no collector, gives up after its attempts, bounds what it holds, and shuts down promptly', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const gone = await startCollectorReceiver();
    const port = gone.receiver.port;
    await gone.receiver.close(0);
    const processor = new EncodingSpanProcessor({ endpoint: `127.0.0.1:${port}`, maxAttempts: 2, initialBackoffMillis: 10, maxQueuedBytes: 20_000, maxBatchBytes: 2_000 });
    const provider = new TracerProvider({ spanProcessors: [processor] });
    emitSpans(provider, 500);
    await provider.forceFlush();

    const stats = processor.stats();
    expect(stats.exported).toBe(0);
    expect(stats.dropped).toBe(500);
    expect(stats.failedCalls).toBeGreaterThanOrEqual(2);
    const started = Date.now();
    await provider.shutdown();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('names its target and reads partial success from a response', () => {
    expect(grpcTarget('http://127.0.0.1:4317')).toBe('127.0.0.1:4317');
    expect(grpcTarget('http://[::1]:4317')).toBe('[::1]:4317');
    expect(grpcTarget('localhost:4317')).toBe('localhost:4317');
    // partial_success { rejected_spans: 300, error_message: "x" }
    expect(rejectedSpansOf(Buffer.from([0x0a, 0x06, 0x08, 0xac, 0x02, 0x12, 0x01, 0x78]))).toBe(300);
    expect(rejectedSpansOf(Buffer.alloc(0))).toBe(0);
    expect(rejectedSpansOf(Buffer.from([0x0a, 0x09]))).toBe(0);
  });
});

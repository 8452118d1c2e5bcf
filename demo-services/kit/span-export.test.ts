import { createServer, type AddressInfo, type Socket } from 'node:net';
import { context, createNoopMeter, SpanKind, trace } from '@opentelemetry/api';
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
import { createSpanExport, SpanExportCounts } from './span-export.ts';

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
async function startCollectorReceiver(refuse: (call: number) => boolean = () => false): Promise<Received> {
  const requests: DecodedExportRequest[] = [];
  let calls = 0;
  const receiver = await startGrpcReceiver({
    host: '127.0.0.1',
    port: 0,
    onExport: (_signal, request) => {
      calls += 1;
      if (refuse(calls)) throw new CollectorError('OVERLOADED', 'full');
      requests.push(request);
      return { rejectedItems: 0 };
    },
  });
  receivers.push(receiver);
  return { receiver, requests, spans: () => requests.reduce((sum, request) => sum + countTraceRequestSpans(request as DecodedExportTraceServiceRequest), 0) };
}

/**
 * A collector frozen as SIGSTOP freezes one: the kernel takes its connections and their bytes,
 * the process answers nothing (not even the HTTP/2 handshake).
 */
async function startFrozenCollector(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function emitSpans(provider: TracerProvider, count: number): void {
  const tracer = provider.getTracer('load');
  for (let i = 0; i < count; i++) {
    tracer.startSpan(`GET /items/${i}`, { kind: SpanKind.SERVER, attributes: { 'url.path': `/items/${i}`, 'http.response.status_code': 200 } }).end();
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('span export to the collector (BatchSpanProcessor and the OTLP/gRPC trace exporter)', () => {
  it('delivers what the SDK serializer encodes, and counts it as exported', async () => {
    const collector = await startCollectorReceiver();
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${collector.receiver.port}` });
    const { provider, memory } = createSampleProvider([spans.processor]);
    emitSampleTrace(provider, memory);
    await provider.forceFlush();

    expect(collector.requests).toHaveLength(1);
    const reference = decodeTraceExportRequest(ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) as Uint8Array);
    expect(traceRequestToOtlpJson(collector.requests[0] as DecodedExportTraceServiceRequest)).toEqual(traceRequestToOtlpJson(reference));
    expect(spans.stats()).toEqual({ exported: 3, dropped: 0, failedCalls: 0 });
    await provider.shutdown();
  });

  it('sends batches of at most maxExportBatchSize, and a partly filled one after the scheduled delay, without a flush', async () => {
    const collector = await startCollectorReceiver();
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${collector.receiver.port}`, maxExportBatchSize: 50, scheduledDelayMillis: 50 });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    emitSpans(provider, 120);
    // The exporter counts a batch when the collector's answer reaches it, a moment after the collector has it.
    await until(() => collector.spans() === 120 && spans.stats().exported === 120, '120 spans at the collector, and their answers back');

    expect(collector.requests.length).toBeGreaterThanOrEqual(3);
    expect(spans.stats()).toEqual({ exported: 120, dropped: 0, failedCalls: 0 });
    await provider.shutdown();
  });

  it('counts a batch the collector refuses as dropped, and delivers the next one', async () => {
    // The SDK's gRPC exporter does not retry: a refused batch is lost, and counted.
    const collector = await startCollectorReceiver((call) => call === 1);
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${collector.receiver.port}` });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    emitSpans(provider, 10);
    await provider.forceFlush().catch(() => {});
    emitSpans(provider, 5);
    await provider.forceFlush();

    expect(collector.spans()).toBe(5);
    expect(spans.stats()).toEqual({ exported: 5, dropped: 10, failedCalls: 1 });
    await provider.shutdown();
  });

  it('with no collector: never blocks, bounds its queue, counts every span dropped, and shuts down promptly', async () => {
    // A port that was free a moment ago: nothing listens there now.
    const gone = await startCollectorReceiver();
    const port = gone.receiver.port;
    await gone.receiver.close(0);
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${port}`, maxQueueSize: 100, maxExportBatchSize: 50, timeoutMillis: 300 });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    emitSpans(provider, 500);
    // Past the queue (and the first batch, already handed to the exporter), spans are dropped as they end.
    expect(spans.stats().dropped).toBe(500 - 100 - 50);
    await provider.forceFlush().catch(() => {});
    await until(() => spans.stats().dropped === 500, 'all 500 spans counted as dropped');

    const stats = spans.stats();
    expect(stats.exported).toBe(0);
    expect(stats.failedCalls).toBeGreaterThanOrEqual(2);
    emitSpans(provider, 10);
    const started = Date.now();
    await provider.shutdown().catch(() => {});
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('with a frozen collector (connections taken, nothing answered): a batch is given up after the timeout and counted, and no flush was waited for', async () => {
    const frozen = await startFrozenCollector();
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${frozen.port}`, scheduledDelayMillis: 20, timeoutMillis: 300 });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    const started = Date.now();
    emitSpans(provider, 10);
    // Ending a span costs no wait: the batch leaves from the processor's timer.
    expect(Date.now() - started).toBeLessThan(100);
    await until(() => spans.stats().dropped === 10, 'the batch to the frozen collector given up');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(spans.stats()).toMatchObject({ exported: 0, failedCalls: 1 });
    expect(frozen.connections()).toBeGreaterThanOrEqual(1);
    await provider.shutdown().catch(() => {});
    await frozen.close();
  });

  it("processor 'each': every span is exported as it ends, and a trace's flush waits for its own exports", async () => {
    const collector = await startCollectorReceiver();
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${collector.receiver.port}`, processor: 'each' });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    const span = provider.getTracer('t').startSpan('SELECT products');
    span.end();
    await spans.flushTrace?.(span.spanContext().traceId);
    expect(spans.stats()).toEqual({ exported: 1, dropped: 0, failedCalls: 0 });
    emitSpans(provider, 3);
    await provider.forceFlush();
    expect(collector.requests).toHaveLength(4);
    expect(spans.stats()).toEqual({ exported: 4, dropped: 0, failedCalls: 0 });
    // A trace with nothing in flight has nothing to wait for.
    await spans.flushTrace?.('0'.repeat(32));
    await provider.shutdown();
  });

  it("processor 'each' with a frozen collector: a trace's flush waits out the export timeout, and its spans are counted as dropped", async () => {
    const frozen = await startFrozenCollector();
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${frozen.port}`, processor: 'each', timeoutMillis: 400 });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    const tracer = provider.getTracer('t');
    const parent = tracer.startSpan('GET /api/products');
    const child = tracer.startSpan('SELECT products', {}, trace.setSpan(context.active(), parent));
    child.end();
    parent.end();
    const started = Date.now();
    await spans.flushTrace?.(parent.spanContext().traceId);
    // What a request that flushes before answering waits: the whole export timeout.
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(spans.stats()).toEqual({ exported: 0, dropped: 2, failedCalls: 2 });
    await provider.shutdown().catch(() => {});
    await frozen.close();
  });

  it("processor 'each' keeps up to maxQueueSize exports in flight, and fails the ones past it at once", async () => {
    const frozen = await startFrozenCollector();
    const spans = createSpanExport({ endpoint: `http://127.0.0.1:${frozen.port}`, processor: 'each', timeoutMillis: 400, maxQueueSize: 40 });
    const provider = new TracerProvider({ spanProcessors: [spans.processor] });
    emitSpans(provider, 45);
    // Past the 40 in flight (more than the exporter's default of 30), spans are dropped at once.
    await until(() => spans.stats().dropped === 5, 'the 5 spans past the limit dropped');
    await provider.forceFlush();
    expect(spans.stats()).toMatchObject({ exported: 0, dropped: 45 });
    await provider.shutdown().catch(() => {});
    await frozen.close();
  });

  it('keeps only the processed-spans counter of the self-observability metrics, and only its own', () => {
    const counts = new SpanExportCounts();
    // Another processor's counter, from the shared no-op meter, is not counted.
    createNoopMeter().createCounter('otel.sdk.processor.span.processed').add(3);
    const meter = counts.getMeter();
    const processed = meter.createCounter('otel.sdk.processor.span.processed');
    processed.add(7, { 'otel.component.type': 'batching_span_processor' });
    processed.add(1, { 'error.type': 'queue_full' });
    processed.add(1, { 'error.type': 'queue_full' });
    processed.add(5, { 'error.type': 'Error' });
    meter.createCounter('otel.sdk.span.started').add(100);
    meter.createUpDownCounter('otel.sdk.processor.span.queue.capacity').add(2048);
    expect(counts.stats()).toEqual({ exported: 7, dropped: 7, failedCalls: 1 });
  });
});

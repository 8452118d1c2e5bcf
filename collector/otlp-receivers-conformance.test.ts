// The official opentelemetry-js exporters for traces, metrics and logs, over
// each OTLP transport (gRPC, HTTP with protobuf bodies, HTTP with JSON bodies
// gzip-compressed), send to one embedded collector over real sockets; what
// lands in traces.jsonl, metrics.jsonl and logs.jsonl must be what the
// reference JSON serializer of opentelemetry-js writes for the same data,
// field for field (ids, parent links, attributes, events, resource, scope,
// timestamps, metric points, log bodies, severities and trace ids).
import { readFile, rm } from 'node:fs/promises';
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import type { ExportResult } from '@opentelemetry/core';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { JsonLogsSerializer, JsonMetricsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import { SAMPLE_ATTRIBUTES, SAMPLE_RESOURCE_ATTRIBUTES, canonicalOtlpJson, createSampleProvider, emitSampleTrace, makeTempDir } from './test-fixtures.ts';

type Protocol = 'grpc' | 'http/protobuf' | 'http/json';

interface Exporter<T> {
  export(items: T, done: (result: ExportResult) => void): void;
  shutdown(): Promise<void>;
}

function exportWith<T>(exporter: Exporter<T>, items: T): Promise<void> {
  return new Promise((resolve, reject) => {
    exporter.export(items, (result) => (result.code === 0 ? resolve() : reject(result.error ?? new Error('export failed'))));
  });
}

function exporters(protocol: Protocol, collector: EmbeddedCollector) {
  const grpcUrl = `http://127.0.0.1:${collector.grpcPort}`;
  const http = (path: string) => ({ url: `http://127.0.0.1:${collector.otlpHttpPort}${path}` });
  switch (protocol) {
    case 'grpc':
      return {
        traces: new GrpcTraceExporter({ url: grpcUrl }),
        metrics: new GrpcMetricExporter({ url: grpcUrl }),
        logs: new GrpcLogExporter({ url: grpcUrl }),
      };
    case 'http/protobuf':
      return {
        traces: new ProtoTraceExporter(http('/v1/traces')),
        metrics: new ProtoMetricExporter(http('/v1/metrics')),
        logs: new ProtoLogExporter(http('/v1/logs')),
      };
    case 'http/json': {
      // The exporters' CompressionAlgorithm.GZIP, typed without importing their transitive base package.
      const compression = 'gzip' as NonNullable<NonNullable<ConstructorParameters<typeof JsonTraceExporter>[0]>['compression']>;
      return {
        traces: new JsonTraceExporter({ ...http('/v1/traces'), compression }),
        metrics: new JsonMetricExporter({ ...http('/v1/metrics'), compression }),
        logs: new JsonLogExporter({ ...http('/v1/logs'), compression }),
      };
    }
  }
}

/** A reader that collects only when asked. */
class ManualReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const resource = resourceFromAttributes(SAMPLE_RESOURCE_ATTRIBUTES);
const SPAN_CONTEXT = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, isRemote: false };

async function sampleMetrics(): Promise<ResourceMetrics> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter('faultline-conformance', '0.0.1');
  const counter = meter.createCounter('orders_total', { description: 'orders taken', unit: '{order}' });
  counter.add(3, { route: '/orders' });
  counter.add(4, { route: '/cart' });
  const histogram = meter.createHistogram('latency_ms', { unit: 'ms' });
  for (const value of [3, 40, 250, 1200]) histogram.record(value, { dependency: 'bank' });
  const gauge = meter.createGauge('queue_depth');
  gauge.record(7.5, { queue: 'payments' });
  const updown = meter.createUpDownCounter('in_flight', { valueType: 1 });
  updown.add(-2);
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  await provider.shutdown();
  return resourceMetrics;
}

async function sampleLogs(): Promise<ReadableLogRecord[]> {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memory })] });
  const logger = provider.getLogger('faultline-conformance', '0.0.1');
  const inSpan = trace.setSpanContext(ROOT_CONTEXT, SPAN_CONTEXT);
  logger.emit({
    body: 'payment declined',
    severityNumber: SeverityNumber.WARN,
    severityText: 'warn',
    attributes: SAMPLE_ATTRIBUTES,
    timestamp: [1_700_000_000, 123_456_789],
    context: inSpan,
  });
  logger.emit({ body: { order: 'o-1', amounts: [1, 2.5], nested: { ok: true } }, severityNumber: SeverityNumber.ERROR, context: inSpan });
  logger.emit({ body: 'outside any span', severityNumber: SeverityNumber.INFO, eventName: 'app.started' });
  await provider.forceFlush();
  const records = memory.getFinishedLogRecords();
  await provider.shutdown();
  return records;
}

async function readLines(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Every leaf item of stored lines or a reference document, with its resource and scope. */
function flatten(documents: unknown[], resourceKey: string, scopeKey: string, itemsKey: string): unknown[] {
  const out: unknown[] = [];
  for (const document of documents as Record<string, Record<string, unknown>[]>[]) {
    for (const resourceEntry of document[resourceKey] ?? []) {
      for (const scopeEntry of (resourceEntry[scopeKey] as Record<string, unknown>[] | undefined) ?? []) {
        for (const item of (scopeEntry[itemsKey] as unknown[] | undefined) ?? []) {
          out.push({ resource: resourceEntry.resource, scope: scopeEntry.scope, item });
        }
      }
    }
  }
  return out;
}

/** Reference OTLP JSON, canonical, with the 64-bit integers opentelemetry-js writes as numbers turned into strings. */
function reference(bytes: Uint8Array | undefined): unknown {
  const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  return canonicalOtlpJson(stringifyInt64(json));
}

const INT64_KEYS = new Set(['timeUnixNano', 'startTimeUnixNano', 'endTimeUnixNano', 'observedTimeUnixNano', 'count', 'asInt', 'bucketCounts', 'zeroCount']);

function stringifyInt64(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => stringifyInt64(item, key));
  if (typeof value === 'number' && INT64_KEYS.has(key)) return String(value);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringifyInt64(v, k)]));
}

const byJson = (a: unknown, b: unknown): number => JSON.stringify(a).localeCompare(JSON.stringify(b));

describe.each<Protocol>(['grpc', 'http/protobuf', 'http/json'])('OTLP conformance over %s with the opentelemetry-js exporters', (protocol) => {
  let runDir: string;
  let collector: EmbeddedCollector;
  let spans: ReadableSpan[];
  let metrics: ResourceMetrics;
  let logs: ReadableLogRecord[];

  beforeAll(async () => {
    runDir = await makeTempDir('receivers');
    collector = await startEmbeddedCollector({ grpcPort: 0, otlpHttpPort: 0, runDir, flushIntervalMs: 20 });
    const { provider, memory } = createSampleProvider();
    emitSampleTrace(provider, memory);
    spans = memory.getFinishedSpans();
    await provider.shutdown();
    metrics = await sampleMetrics();
    logs = await sampleLogs();

    const sending = exporters(protocol, collector);
    await exportWith<ReadableSpan[]>(sending.traces, spans);
    await exportWith<ResourceMetrics>(sending.metrics, metrics);
    await exportWith<ReadableLogRecord[]>(sending.logs, logs);
    await Promise.all([sending.traces.shutdown(), sending.metrics.shutdown(), sending.logs.shutdown()]);
    await collector.flush();
  });

  afterAll(async () => {
    await collector?.close();
    await rm(runDir, { recursive: true, force: true });
  });

  it('stores spans exactly as the reference serializer writes them', async () => {
    const stored = flatten(await readLines(collector.tracesFile), 'resourceSpans', 'scopeSpans', 'spans');
    const expected = flatten([reference(JsonTraceSerializer.serializeRequest(spans))], 'resourceSpans', 'scopeSpans', 'spans');
    expect(stored).toHaveLength(3);
    expect(stored.sort(byJson)).toEqual(expected.sort(byJson));
  });

  it('stores metric points exactly as the reference serializer writes them', async () => {
    const lines = await readLines(collector.metricsFile);
    for (const line of lines) expect(Object.keys(line)).toEqual(['resourceMetrics']);
    const stored = flatten(lines, 'resourceMetrics', 'scopeMetrics', 'metrics');
    const expected = flatten([reference(JsonMetricsSerializer.serializeRequest(metrics))], 'resourceMetrics', 'scopeMetrics', 'metrics');
    expect(stored.map((entry) => (entry as { item: { name: string } }).item.name).sort()).toEqual(['in_flight', 'latency_ms', 'orders_total', 'queue_depth']);
    expect(stored.sort(byJson)).toEqual(expected.sort(byJson));
    const histogram = stored.find((entry) => (entry as { item: { name: string } }).item.name === 'latency_ms') as {
      item: { histogram: { dataPoints: { count: string; sum: number; min: number; max: number }[] } };
    };
    expect(histogram.item.histogram.dataPoints[0]).toMatchObject({ count: '4', sum: 1493, min: 3, max: 1200 });
    expect(collector.stats().metrics).toMatchObject({ received: 5, stored: 5, dropped: 0 });
  });

  it('stores log records with bodies, severities and trace ids exactly as the reference serializer writes them', async () => {
    const lines = await readLines(collector.logsFile);
    for (const line of lines) expect(Object.keys(line)).toEqual(['resourceLogs']);
    const stored = flatten(lines, 'resourceLogs', 'scopeLogs', 'logRecords');
    const expected = flatten([reference(JsonLogsSerializer.serializeRequest(logs))], 'resourceLogs', 'scopeLogs', 'logRecords');
    expect(stored.sort(byJson)).toEqual(expected.sort(byJson));
    const records = stored.map((entry) => (entry as { item: Record<string, unknown> }).item);
    const declined = records.find((record) => (record.body as { stringValue?: string }).stringValue === 'payment declined');
    expect(declined).toMatchObject({
      traceId: SPAN_CONTEXT.traceId,
      spanId: SPAN_CONTEXT.spanId,
      severityNumber: SeverityNumber.WARN,
      severityText: 'warn',
      timeUnixNano: '1700000000123456789',
      flags: 1,
    });
    const outside = records.find((record) => (record.body as { stringValue?: string }).stringValue === 'outside any span');
    expect(outside?.traceId).toBeUndefined();
    expect(outside?.eventName).toBe('app.started');
    expect(collector.stats()).toMatchObject({ logs: { received: 3, stored: 3, dropped: 0 }, rejectedRequests: 0 });
  });
});

// The official OTLP/gRPC trace exporter of opentelemetry-js sends a trace that
// uses every part of the model to the collector over a real socket; what lands
// in traces.jsonl must be what the SDK recorded, field for field. This is the
// test that proves the hand-written schema's field numbers.
import { readFile, rm } from 'node:fs/promises';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedCollector } from './embedded-collector.ts';
import type { EmbeddedCollector } from './embedded-collector.ts';
import type { OtlpResourceSpansJson, OtlpScopeSpansJson, OtlpSpanJson, OtlpTracesDataJson } from './otlp-json.ts';
import {
  SAMPLE_ATTRIBUTES,
  SAMPLE_EVENT_ATTRIBUTES,
  SAMPLE_RESOURCE_ATTRIBUTES,
  SAMPLE_SERVICE,
  canonicalOtlpJson,
  createSampleProvider,
  emitSampleTrace,
  hrTimeToNanoString,
  makeTempDir,
} from './test-fixtures.ts';
import { readSpans } from './trace-query.ts';

interface StoredSpan {
  resource: OtlpResourceSpansJson['resource'];
  scope: OtlpScopeSpansJson['scope'];
  span: OtlpSpanJson;
}

describe('OTLP/gRPC conformance with the opentelemetry-js exporter', () => {
  let runDir: string;
  let collector: EmbeddedCollector;
  let recorded: ReadableSpan[];
  let sample: Record<'other' | 'parent' | 'child', ReadableSpan>;
  let lines: OtlpTracesDataJson[];
  const stored = new Map<string, StoredSpan>();

  beforeAll(async () => {
    runDir = await makeTempDir('conformance');
    collector = await startEmbeddedCollector({ grpcPort: 0, runDir });
    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${collector.grpcPort}` });
    const { provider, memory } = createSampleProvider([new BatchSpanProcessor({ exporter })]);
    sample = emitSampleTrace(provider, memory);
    await provider.forceFlush();
    await collector.flush();
    recorded = memory.getFinishedSpans();
    await provider.shutdown();

    const text = await readFile(collector.tracesFile, 'utf8');
    lines = text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as OtlpTracesDataJson);
    for (const data of lines) {
      for (const resourceSpans of data.resourceSpans ?? []) {
        for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
          for (const span of scopeSpans.spans ?? []) {
            stored.set(span.spanId ?? '', { resource: resourceSpans.resource, scope: scopeSpans.scope, span });
          }
        }
      }
    }
  });

  afterAll(async () => {
    await collector.close();
    await rm(runDir, { recursive: true, force: true });
  });

  const storedSpan = (span: ReadableSpan): StoredSpan => {
    const found = stored.get(span.spanContext().spanId);
    if (!found) throw new Error(`span ${span.name} is not in traces.jsonl`);
    return found;
  };

  it('stores every span the SDK recorded, one TracesData object per line', () => {
    expect(recorded).toHaveLength(3);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(Object.keys(line)).toEqual(['resourceSpans']);
    expect([...stored.keys()].sort()).toEqual(recorded.map((span) => span.spanContext().spanId).sort());
    expect(collector.stats()).toMatchObject({ traces: { received: 3, stored: 3, dropped: 0 }, rejectedRequests: 0 });
  });

  it('keeps each span, its resource and its scope exactly as the reference JSON serializer writes them', () => {
    const reference = canonicalOtlpJson(
      JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(recorded))),
    ) as OtlpTracesDataJson;
    const [referenceResource] = reference.resourceSpans ?? [];
    const [referenceScope] = referenceResource?.scopeSpans ?? [];
    expect(referenceScope?.spans).toHaveLength(3);
    for (const referenceSpan of referenceScope?.spans ?? []) {
      const found = stored.get(referenceSpan.spanId ?? '');
      expect(found?.span).toEqual(referenceSpan);
      expect(found?.resource).toEqual(referenceResource?.resource);
      expect(found?.scope).toEqual(referenceScope?.scope);
    }
  });

  it('keeps ids, parent links, kinds, timestamps, status and links as the SDK recorded them', () => {
    const { parent, child, other } = sample;
    const storedParent = storedSpan(parent).span;
    const storedChild = storedSpan(child).span;
    expect(storedParent.traceId).toBe(parent.spanContext().traceId);
    expect(storedParent.parentSpanId).toBeUndefined();
    expect(storedChild.traceId).toBe(parent.spanContext().traceId);
    expect(storedChild.parentSpanId).toBe(parent.spanContext().spanId);
    expect([storedParent.kind, storedChild.kind, storedSpan(other).span.kind]).toEqual([2, 3, 1]);
    expect(storedParent.startTimeUnixNano).toBe('1700000000123456789');
    expect(storedParent.endTimeUnixNano).toBe('1700000001987654321');
    for (const span of recorded) {
      expect(storedSpan(span).span.startTimeUnixNano).toBe(hrTimeToNanoString(span.startTime));
      expect(storedSpan(span).span.endTimeUnixNano).toBe(hrTimeToNanoString(span.endTime));
    }
    expect(storedChild.status).toEqual({ code: 2, message: 'bank said no' });
    expect(storedChild.links).toEqual([
      {
        traceId: other.spanContext().traceId,
        spanId: other.spanContext().spanId,
        attributes: [{ key: 'link.reason', value: { stringValue: 'retry of' } }],
        flags: 257,
      },
    ]);
    // W3C sampled flag plus OTLP's "has is-remote" bit (0x100).
    expect(storedParent.flags).toBe(257);
  });

  it('reads back, through trace-query, the attribute values, events and resource the SDK was given', async () => {
    const spans = await readSpans(collector.tracesFile);
    const parent = spans.find((span) => span.spanId === sample.parent.spanContext().spanId);
    expect(parent?.service).toBe(SAMPLE_SERVICE);
    expect(parent?.attributes).toEqual(SAMPLE_ATTRIBUTES);
    expect(parent?.events).toEqual([
      { name: 'cache.miss', timeMs: 1_700_000_000_223.456, attributes: SAMPLE_EVENT_ATTRIBUTES },
      { name: 'no.attributes', timeMs: 1_700_000_000_323.456, attributes: {} },
    ]);
    const resource = storedSpan(sample.parent).resource?.attributes ?? [];
    for (const [key, value] of Object.entries(SAMPLE_RESOURCE_ATTRIBUTES)) {
      expect(resource.find((attribute) => attribute.key === key), key).toBeDefined();
      expect(resource.find((attribute) => attribute.key === key)?.value).toEqual(
        typeof value === 'string'
          ? { stringValue: value }
          : typeof value === 'boolean'
            ? { boolValue: value }
            : Number.isInteger(value)
              ? { intValue: String(value) }
              : { doubleValue: value },
      );
    }
  });
});

import { SpanKind, TraceFlags, context, createTraceState, trace } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { traceRequestToOtlpJson } from '../../collector/otlp-json.ts';
import { createSampleProvider, emitSampleTrace, hrTimeToNanoString } from '../../collector/test-fixtures.ts';
import { decodeTraceExportRequest } from '../../collector/trace-request.ts';
import { encodeExportRequest, encodeResource, encodeScope, ProtoWriter, writeSpan, type EncodedScopeSpans } from './otlp-span-encoding.ts';

/** Encode spans (all of one resource) the way span-export.ts batches them: grouped by scope, in order of first appearance. */
function encodeRequest(spans: readonly ReadableSpan[]): Buffer {
  const scopes = new Map<object, { scope: ReadableSpan['instrumentationScope']; writer: ProtoWriter }>();
  for (const span of spans) {
    let entry = scopes.get(span.instrumentationScope);
    if (!entry) {
      entry = { scope: span.instrumentationScope, writer: new ProtoWriter(64) };
      scopes.set(span.instrumentationScope, entry);
    }
    writeSpan(entry.writer, span);
  }
  const encoded: EncodedScopeSpans[] = [...scopes.values()].map(({ scope, writer }) => ({ scope: encodeScope(scope), spans: writer.view() }));
  const resource = (spans[0] as ReadableSpan).resource;
  return encodeExportRequest(encodeResource(resource.attributes), resource.schemaUrl, encoded);
}

/** What the collector makes of a request body: decoded by its protobuf schema, as OTLP/JSON. */
function asCollectorSees(body: Uint8Array): unknown {
  return traceRequestToOtlpJson(decodeTraceExportRequest(body));
}

describe('OTLP span encoding', () => {
  it('encodes spans as the SDK serializer does: attributes of every kind, events, links, status, parents', () => {
    const { provider, memory } = createSampleProvider();
    emitSampleTrace(provider, memory);
    const spans = memory.getFinishedSpans();
    const reference = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;

    expect(asCollectorSees(encodeRequest(spans))).toEqual(asCollectorSees(reference));
  });

  it('keeps nanosecond times exact past 2^53, trace state, remote parents and long strings', () => {
    const { provider, memory } = createSampleProvider();
    const tracer = provider.getTracer('edge-cases');
    const remoteParent = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: createTraceState('vendor=abc,other=1'),
    });
    const long = 'x'.repeat(20_000);
    const span = tracer.startSpan(
      'remote child',
      { kind: SpanKind.CONSUMER, attributes: { long, medium: 'é'.repeat(100), big: 2 ** 52 + 1, negative: -(2 ** 40) }, startTime: [4_102_444_800, 999_999_999] },
      remoteParent,
    );
    span.end([4_102_444_801, 1]);
    const spans = memory.getFinishedSpans();
    const reference = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;

    const json = asCollectorSees(encodeRequest(spans)) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> };
    expect(json).toEqual(asCollectorSees(reference));
    const encoded = json.resourceSpans[0]?.scopeSpans[0]?.spans[0];
    expect(encoded?.startTimeUnixNano).toBe(hrTimeToNanoString([4_102_444_800, 999_999_999]));
    expect(encoded?.endTimeUnixNano).toBe(hrTimeToNanoString([4_102_444_801, 1]));
    expect(encoded?.traceState).toBe('vendor=abc,other=1');
    expect(encoded?.parentSpanId).toBe('b7ad6b7169203331');
    expect(encoded?.flags).toBe(0x301);
  });

  it('writes varints and lengths protobufjs reads back, from one byte to 2^53', () => {
    const writer = new ProtoWriter(1);
    const values = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 5, Number.MAX_SAFE_INTEGER];
    for (const value of values) writer.varint(value);
    writer.int64(-1);
    writer.int64(-(2 ** 40));
    const reader = protobuf.Reader.create(writer.view());
    for (const value of values) expect(Number(reader.uint64())).toBe(value);
    expect(Number(reader.int64())).toBe(-1);
    expect(Number(reader.int64())).toBe(-(2 ** 40));
    expect(reader.pos).toBe(reader.len);
  });
});

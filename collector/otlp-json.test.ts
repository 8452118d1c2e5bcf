import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { messageToOtlpJson, traceRequestToOtlpJson } from './otlp-json.ts';
import { OTLP_TRACE_TYPES, TRACE_EXPORT_METHOD_PATH, otlpRoot } from './otlp-schema.ts';
import { canonicalOtlpJson, createSampleProvider, emitSampleTrace } from './test-fixtures.ts';
import { decodeTraceExportRequest, encodeTraceExportResponse } from './trace-request.ts';

function referenceJson(spans: Parameters<typeof JsonTraceSerializer.serializeRequest>[0]): unknown {
  return canonicalOtlpJson(JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans))));
}

function roundTrip(typeName: string, object: Record<string, unknown>): Record<string, unknown> {
  const type = otlpRoot.lookupType(typeName);
  const decoded = type.decode(type.encode(type.fromObject(object)).finish());
  return messageToOtlpJson(type, decoded);
}

describe('OTLP protobuf to OTLP JSON', () => {
  it('turns the protobuf of the opentelemetry-js exporter into the JSON its JSON serializer writes', () => {
    const { provider, memory } = createSampleProvider();
    emitSampleTrace(provider, memory);
    const spans = memory.getFinishedSpans();
    const protobufBody = ProtobufTraceSerializer.serializeRequest(spans);
    expect(protobufBody).toBeDefined();

    const json = traceRequestToOtlpJson(decodeTraceExportRequest(protobufBody ?? new Uint8Array()));

    expect(json).toEqual(referenceJson(spans));
  });

  it('writes ids as lowercase hex, 64-bit integers as decimal strings and other bytes as base64', () => {
    const span = roundTrip('opentelemetry.proto.trace.v1.Span', {
      traceId: Buffer.from('0AF7651916CD43DD8448EB211C80319C', 'hex'),
      spanId: Buffer.from('B7AD6B7169203331', 'hex'),
      parentSpanId: Buffer.from('00f067aa0ba902b7', 'hex'),
      startTimeUnixNano: '18446744073709551615',
      endTimeUnixNano: '1',
      kind: 3,
      flags: 0xffffffff,
      attributes: [
        { key: 'min', value: { intValue: '-9223372036854775808' } },
        { key: 'bytes', value: { bytesValue: Buffer.from([0, 1, 2, 250]) } },
      ],
    });
    expect(span).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      parentSpanId: '00f067aa0ba902b7',
      startTimeUnixNano: '18446744073709551615',
      endTimeUnixNano: '1',
      kind: 3,
      flags: 4294967295,
      attributes: [
        { key: 'min', value: { intValue: '-9223372036854775808' } },
        { key: 'bytes', value: { bytesValue: 'AAEC+g==' } },
      ],
    });
  });

  it('writes every range of 64-bit integer exactly, signed and unsigned', () => {
    const values = ['-1', '-9223372036854775807', '9007199254740991', '9007199254740993', '9223372036854775807', '-4294967296', '4294967296'];
    const span = roundTrip('opentelemetry.proto.trace.v1.Span', {
      startTimeUnixNano: '9007199254740993',
      endTimeUnixNano: '4294967295',
      attributes: values.map((value, i) => ({ key: `k${i}`, value: { intValue: value } })),
    });
    expect(span.startTimeUnixNano).toBe('9007199254740993');
    expect(span.endTimeUnixNano).toBe('4294967295');
    expect((span.attributes as { value: { intValue: string } }[]).map((attribute) => attribute.value.intValue)).toEqual(values);
  });

  it('leaves out default values but keeps a oneof member set to its default', () => {
    const span = roundTrip('opentelemetry.proto.trace.v1.Span', {
      traceId: Buffer.alloc(16, 1),
      spanId: Buffer.alloc(8, 2),
      name: '',
      kind: 0,
      flags: 0,
      droppedAttributesCount: 0,
      attributes: [
        { key: 'empty', value: { stringValue: '' } },
        { key: 'false', value: { boolValue: false } },
        { key: 'zero', value: { intValue: 0 } },
        { key: 'zero.double', value: { doubleValue: 0 } },
        { key: 'unset', value: {} },
      ],
      status: {},
    });
    expect(span).toEqual({
      traceId: '01010101010101010101010101010101',
      spanId: '0202020202020202',
      attributes: [
        { key: 'empty', value: { stringValue: '' } },
        { key: 'false', value: { boolValue: false } },
        { key: 'zero', value: { intValue: '0' } },
        { key: 'zero.double', value: { doubleValue: 0 } },
        { key: 'unset', value: {} },
      ],
      status: {},
    });
  });

  it('writes non-finite doubles as the proto3 JSON strings and nests arrays and key-value lists', () => {
    const value = roundTrip('opentelemetry.proto.common.v1.AnyValue', {
      kvlistValue: {
        values: [
          { key: 'nan', value: { doubleValue: Number.NaN } },
          { key: 'inf', value: { doubleValue: Number.POSITIVE_INFINITY } },
          { key: 'list', value: { arrayValue: { values: [{ doubleValue: Number.NEGATIVE_INFINITY }, { kvlistValue: {} }] } } },
        ],
      },
    });
    expect(value).toEqual({
      kvlistValue: {
        values: [
          { key: 'nan', value: { doubleValue: 'NaN' } },
          { key: 'inf', value: { doubleValue: 'Infinity' } },
          { key: 'list', value: { arrayValue: { values: [{ doubleValue: '-Infinity' }, { kvlistValue: {} }] } } },
        ],
      },
    });
  });
});

describe('OTLP trace schema', () => {
  it('encodes responses the opentelemetry-js exporter decodes', () => {
    const partial = encodeTraceExportResponse({ rejectedSpans: 15, errorMessage: 'queue full' });
    expect(ProtobufTraceSerializer.deserializeResponse(partial)).toEqual({
      partialSuccess: { rejectedSpans: 15, errorMessage: 'queue full' },
    });
    const full = encodeTraceExportResponse({ rejectedSpans: 0 });
    expect(full.length).toBe(0);
    expect(ProtobufTraceSerializer.deserializeResponse(full)).toEqual({});
  });

  it('names the TraceService Export method as the gRPC path', () => {
    const service = otlpRoot.lookupService('opentelemetry.proto.collector.trace.v1.TraceService');
    const method = service.methods.Export;
    expect(method?.resolvedRequestType).toBe(OTLP_TRACE_TYPES.ExportTraceServiceRequest);
    expect(method?.resolvedResponseType).toBe(OTLP_TRACE_TYPES.ExportTraceServiceResponse);
    expect(TRACE_EXPORT_METHOD_PATH).toBe(`/${service.fullName.slice(1)}/Export`);
  });
});

import { describe, expect, it } from 'vitest';
import { isCollectorError } from './collector-error.ts';
import { OTLP_TRACE_TYPES } from './otlp-schema.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';
import { countTraceRequestSpans, decodeTraceExportRequest, keepFirstSpans } from './trace-request.ts';

function span(name: string, ids: { traceId?: Buffer; spanId?: Buffer; parentSpanId?: Buffer } = {}): Record<string, unknown> {
  return { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name, ...ids };
}

function encode(request: Record<string, unknown>): Uint8Array {
  const { ExportTraceServiceRequest } = OTLP_TRACE_TYPES;
  return ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(request)).finish();
}

function spanNames(request: DecodedExportTraceServiceRequest): string[][][] {
  return (request.resourceSpans ?? []).map((resource) => (resource.scopeSpans ?? []).map((scope) => (scope.spans ?? []).map((s) => s.name ?? '')));
}

function decodeError(body: Uint8Array): unknown {
  try {
    decodeTraceExportRequest(body);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('decodeTraceExportRequest', () => {
  it('refuses bytes that are not protobuf', () => {
    const error = decodeError(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    expect(isCollectorError(error, 'MALFORMED_OTLP')).toBe(true);
    expect((error as Error).message).toMatch(/^malformed ExportTraceServiceRequest: /);
  });

  it('names an id of the wrong size', () => {
    const body = encode({
      resourceSpans: [{ scopeSpans: [{ spans: [span('ok'), span('bad', { parentSpanId: Buffer.alloc(3) })] }] }],
    });
    const error = decodeError(body);
    expect(isCollectorError(error, 'MALFORMED_OTLP')).toBe(true);
    expect((error as Error).message).toBe(
      'invalid ExportTraceServiceRequest: resourceSpans[0].scopeSpans[0].spans[1].parentSpanId: must be 8 bytes, got 3',
    );
    const missingTraceId = encode({ resourceSpans: [{ scopeSpans: [{ spans: [span('x', { traceId: Buffer.alloc(0) })] }] }] });
    expect((decodeError(missingTraceId) as Error).message).toMatch(/spans\[0\]\.traceId: must be 16 bytes, got 0$/);
    const badLink = encode({
      resourceSpans: [{ scopeSpans: [{ spans: [{ ...span('x'), links: [{ traceId: Buffer.alloc(16, 3), spanId: Buffer.alloc(9) }] }] }] }],
    });
    expect((decodeError(badLink) as Error).message).toMatch(/spans\[0\]\.links\[0\]\.spanId: must be 8 bytes, got 9$/);
  });

  it('accepts an empty request', () => {
    expect(countTraceRequestSpans(decodeTraceExportRequest(new Uint8Array()))).toBe(0);
  });
});

describe('keepFirstSpans', () => {
  const request = (): DecodedExportTraceServiceRequest =>
    decodeTraceExportRequest(
      encode({
        resourceSpans: [
          { scopeSpans: [{ spans: [span('a1'), span('a2')] }, { spans: [span('b1')] }] },
          { scopeSpans: [{ spans: [span('c1'), span('c2')] }] },
        ],
      }),
    );

  it('keeps spans in request order and removes scopes and resources left empty', () => {
    const r = request();
    expect(countTraceRequestSpans(r)).toBe(5);
    expect(keepFirstSpans(r, 3)).toBe(2);
    expect(spanNames(r)).toEqual([[['a1', 'a2'], ['b1']]]);
    expect(countTraceRequestSpans(r)).toBe(3);
  });

  it('cuts inside a scope', () => {
    const r = request();
    expect(keepFirstSpans(r, 4)).toBe(1);
    expect(spanNames(r)).toEqual([[['a1', 'a2'], ['b1']], [['c1']]]);
  });

  it('removes everything at zero and nothing when all fit', () => {
    const none = request();
    expect(keepFirstSpans(none, 0)).toBe(5);
    expect(spanNames(none)).toEqual([]);
    const all = request();
    expect(keepFirstSpans(all, 5)).toBe(0);
    expect(countTraceRequestSpans(all)).toBe(5);
  });
});

import { describe, expect, it } from 'vitest';
import { OTLP_TRACE_TYPES } from './otlp-schema.ts';
import { SIGNALS } from './otlp-signals.ts';
import { MAX_JSON_DEPTH, MAX_REQUEST_ELEMENTS, checkJsonLimits, checkProtobufLimits, jsonLimitCheck, protobufLimitCheck, type RequestLimitCheck } from './request-limits.ts';

const json = (text: string) => () => checkJsonLimits(SIGNALS.traces, Buffer.from(text));
const code = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

/** A traces request with `spans` spans of a few attributes each. */
function traces(spans: number): Buffer {
  const { ExportTraceServiceRequest } = OTLP_TRACE_TYPES;
  const span = (i: number) => ({
    traceId: Buffer.alloc(16, 1),
    spanId: Buffer.alloc(8, 2),
    name: `span ${i} with "quotes" and [brackets] {braces}, commas`,
    attributes: [
      { key: 'a', value: { stringValue: 'x'.repeat(100) } },
      { key: 'b', value: { intValue: i } },
    ],
  });
  const message = ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: Array.from({ length: spans }, (_, i) => span(i)) }] }] });
  return Buffer.from(ExportTraceServiceRequest.encode(message).finish());
}

describe('JSON limits', () => {
  it('takes an ordinary request, whatever its strings hold', () => {
    expect(code(json(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: '[[[[{{{{,,,,\\"]]]' }] }] }] })))).toBeUndefined();
    // A string's escaped quotes and backslashes do not end it early.
    expect(code(json(`{"a":"\\\\\\"${'['.repeat(MAX_JSON_DEPTH + 5)}"}`))).toBeUndefined();
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH as malformed, and takes that depth exactly', () => {
    expect(code(json('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH)))).toBeUndefined();
    expect(code(json('['.repeat(MAX_JSON_DEPTH + 1)))).toBe('MALFORMED_OTLP');
    expect(code(json('{"a":'.repeat(MAX_JSON_DEPTH + 1)))).toBe('MALFORMED_OTLP');
  });

  it('refuses more than MAX_REQUEST_ELEMENTS values as too complex', () => {
    expect(code(json(`[${'0,'.repeat(MAX_REQUEST_ELEMENTS - 2)}0]`))).toBeUndefined();
    expect(code(json(`[${'{},'.repeat(MAX_REQUEST_ELEMENTS)}{}]`))).toBe('TOO_COMPLEX');
    expect(() => json(`[${'0,'.repeat(MAX_REQUEST_ELEMENTS)}0]`)()).toThrow(/ExportTraceServiceRequest holds more than 100000 JSON values/);
  });
});

describe('protobuf limits', () => {
  it('takes an ordinary large request', () => {
    const body = traces(2_000);
    expect(body.length).toBeGreaterThan(MAX_REQUEST_ELEMENTS);
    expect(code(() => checkProtobufLimits(SIGNALS.traces, body))).toBeUndefined();
  });

  it('refuses more than MAX_REQUEST_ELEMENTS fields: empty messages, or a request of many spans', () => {
    const empties = Buffer.alloc(2 * (MAX_REQUEST_ELEMENTS + 1));
    for (let i = 0; i < empties.length; i += 2) empties[i] = 0x0a;
    expect(code(() => checkProtobufLimits(SIGNALS.logs, empties))).toBe('TOO_COMPLEX');
    expect(code(() => checkProtobufLimits(SIGNALS.traces, traces(12_000)))).toBe('TOO_COMPLEX');
  });

  it('counts each value of a packed list', () => {
    // resourceMetrics -> scopeMetrics -> metrics -> histogram -> dataPoints -> bucketCounts (packed fixed64).
    const wrap = (number: number, payload: Buffer): Buffer => {
      const header = [(number << 3) | 2];
      let length = payload.length;
      while (length >= 0x80) {
        header.push((length & 0x7f) | 0x80);
        length = Math.floor(length / 128);
      }
      header.push(length);
      return Buffer.concat([Buffer.from(header), payload]);
    };
    const request = (counts: number) => wrap(1, wrap(2, wrap(2, wrap(9, wrap(1, wrap(6, Buffer.alloc(8 * counts)))))));
    expect(code(() => checkProtobufLimits(SIGNALS.metrics, request(MAX_REQUEST_ELEMENTS / 2)))).toBeUndefined();
    expect(code(() => checkProtobufLimits(SIGNALS.metrics, request(MAX_REQUEST_ELEMENTS + 1)))).toBe('TOO_COMPLEX');
  });

  it('leaves a body it cannot walk (truncated) to the decoder', () => {
    const body = traces(2_000);
    expect(code(() => checkProtobufLimits(SIGNALS.traces, body.subarray(0, body.length - 7)))).toBeUndefined();
  });
});

describe('checked as the body arrives (while gzip inflates it)', () => {
  /** Feed `body` in growing prefixes of `step` bytes, as the receiver does; the error code, if any. */
  const inPieces = (check: RequestLimitCheck, body: Buffer, step: number) =>
    code(() => {
      for (let filled = Math.min(step, body.length); ; filled = Math.min(filled + step, body.length)) {
        check.update(body.subarray(0, filled));
        if (filled === body.length) return;
      }
    });

  it('JSON: the same verdict whatever the piece boundaries, escapes and strings split included', () => {
    const fine = Buffer.from(`{"a":"\\\\\\"${'['.repeat(MAX_JSON_DEPTH + 5)}\\\\","b":[${'{"c":"}]"},'.repeat(50)}{}]}`);
    const deep = Buffer.from(`{"a":"\\"",${'['.repeat(MAX_JSON_DEPTH + 1)}`);
    for (const step of [1, 2, 3, 7, 64, 100_000]) {
      expect(inPieces(jsonLimitCheck(SIGNALS.traces), fine, step), `step ${step}`).toBeUndefined();
      expect(inPieces(jsonLimitCheck(SIGNALS.traces), deep, step), `step ${step}`).toBe('MALFORMED_OTLP');
    }
    expect(code(json(fine.toString()))).toBeUndefined();
  });

  it('protobuf: the same verdict whatever the piece boundaries, and a flood stopped early', () => {
    const body = traces(2_000);
    for (const step of [1, 5, 333, 4_096]) expect(inPieces(protobufLimitCheck(SIGNALS.traces), body.subarray(0, 60_000), step), `step ${step}`).toBeUndefined();
    expect(inPieces(protobufLimitCheck(SIGNALS.traces), body, 16_384)).toBeUndefined();
    const empties = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < empties.length; i += 2) empties[i] = 0x0a;
    // Refused with the first pieces past 100,000 fields, long before the rest would arrive.
    let fed = 0;
    const check = protobufLimitCheck(SIGNALS.logs);
    const result = code(() => {
      for (fed = 16_384; fed <= empties.length; fed += 16_384) check.update(empties.subarray(0, fed));
    });
    expect(result).toBe('TOO_COMPLEX');
    expect(fed).toBeLessThan(2 * (MAX_REQUEST_ELEMENTS + 1) + 16_384 + 1);
  });
});

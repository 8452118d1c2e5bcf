import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { createRandom, type Random } from '../demo-services/kit/random.ts';
import { traceRequestToOtlpJson } from './otlp-json.ts';
import { OTLP_TRACE_TYPES } from './otlp-schema.ts';
import { countItems, decodeExportRequest, SIGNALS } from './otlp-signals.ts';
import { transcodeTraceRequest } from './otlp-transcode.ts';
import { createSampleProvider, emitSampleTrace } from './test-fixtures.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';

/** The fast path's result with its line as text, to compare with the general path's. */
function transcode(body: Uint8Array): { json: string; spans: number } | undefined {
  const result = transcodeTraceRequest(body);
  return result && { json: result.json.toString('utf8'), spans: result.spans };
}

/** What the general path stores for a body: the JSON line and the span count, or the error it refuses it with. */
function generalPath(body: Uint8Array): { json: string; spans: number } | { error: string } {
  try {
    const request = decodeExportRequest(SIGNALS.traces, body);
    return { json: JSON.stringify(traceRequestToOtlpJson(request as DecodedExportTraceServiceRequest)), spans: countItems(SIGNALS.traces, request) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const encode = (object: Record<string, unknown>): Uint8Array => {
  const type = OTLP_TRACE_TYPES.ExportTraceServiceRequest;
  return type.encode(type.fromObject(object)).finish();
};

const hex = (random: Random, bytes: number): string => Array.from({ length: bytes }, () => random.int(0, 255).toString(16).padStart(2, '0')).join('');

function randomAnyValue(random: Random, depth: number): Record<string, unknown> {
  switch (random.int(0, depth > 2 ? 4 : 6)) {
    case 0:
      return { stringValue: random.pick(['', 'a', 'héllo ✓', '"q"\\\n', 'x'.repeat(200)]) };
    case 1:
      return { boolValue: random.pick([true, false]) };
    case 2:
      return { intValue: random.pick([0, 1, -1, 2 ** 40, -(2 ** 53) + 1, '9223372036854775807', '-9223372036854775808']) };
    case 3:
      return { doubleValue: random.pick([0, -0, 0.1, -2.5e-300, 1e300, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) };
    case 4:
      return { bytesValue: Buffer.from(hex(random, random.int(0, 5)), 'hex') };
    case 5:
      return { arrayValue: { values: Array.from({ length: random.int(0, 3) }, () => randomAnyValue(random, depth + 1)) } };
    default:
      return { kvlistValue: { values: Array.from({ length: random.int(0, 3) }, (_, i) => ({ key: `k${i}`, value: randomAnyValue(random, depth + 1) })) } };
  }
}

const attributes = (random: Random, max: number) =>
  Array.from({ length: random.int(0, max) }, (_, i) => ({ key: random.pick([`attr.${i}`, '', 'ünï', 'q"uote']), value: randomAnyValue(random, 0) }));

function randomSpan(random: Random): Record<string, unknown> {
  return {
    traceId: Buffer.from(hex(random, 16), 'hex'),
    spanId: Buffer.from(hex(random, 8), 'hex'),
    ...(random.int(0, 1) ? { parentSpanId: Buffer.from(hex(random, 8), 'hex') } : {}),
    ...(random.int(0, 3) === 0 ? { traceState: 'a=b' } : {}),
    flags: random.pick([0, 1, 0x101, 0x301, 0xffffffff]),
    name: random.pick(['GET /x', '', 'ü'.repeat(70)]),
    kind: random.int(0, 5),
    startTimeUnixNano: random.pick(['0', '1', '1732400000123456789', '18446744073709551615']),
    endTimeUnixNano: '1732400000923456789',
    attributes: attributes(random, 5),
    droppedAttributesCount: random.pick([0, 3]),
    events: Array.from({ length: random.int(0, 2) }, () => ({ timeUnixNano: '1732400000123456789', name: 'ev', attributes: attributes(random, 2), droppedAttributesCount: random.int(0, 1) })),
    droppedEventsCount: random.int(0, 1),
    links: Array.from({ length: random.int(0, 2) }, () => ({ traceId: Buffer.from(hex(random, 16), 'hex'), spanId: Buffer.from(hex(random, 8), 'hex'), flags: random.int(0, 1) * 0x301, attributes: attributes(random, 1) })),
    droppedLinksCount: random.int(0, 1),
    ...(random.int(0, 1) ? { status: { code: random.int(0, 2), message: random.pick(['', 'boom']) } } : {}),
  };
}

function randomRequest(random: Random): Record<string, unknown> {
  return {
    resourceSpans: Array.from({ length: random.int(1, 2) }, () => ({
      resource: { attributes: attributes(random, 3), droppedAttributesCount: random.int(0, 1) },
      scopeSpans: Array.from({ length: random.int(0, 2) }, () => ({
        scope: { name: 'faultline', version: random.pick(['', '1.0.0']), attributes: attributes(random, 1) },
        spans: Array.from({ length: random.int(0, 4) }, () => randomSpan(random)),
        schemaUrl: random.pick(['', 'https://opentelemetry.io/schemas/1.30.0']),
      })),
      schemaUrl: random.pick(['', 'https://x']),
    })),
  };
}

describe('OTLP trace protobuf to its JSON line in one pass', () => {
  it('writes exactly the line the general path stores for the SDK exporter requests', () => {
    const { provider, memory } = createSampleProvider();
    emitSampleTrace(provider, memory);
    const body = ProtobufTraceSerializer.serializeRequest(memory.getFinishedSpans()) as Uint8Array;

    expect(transcode(body)).toEqual(generalPath(body));
  });

  it('agrees with the general path on a thousand generated requests', () => {
    const random = createRandom(7);
    for (let i = 0; i < 1_000; i++) {
      const body = encode(randomRequest(random));
      const expected = generalPath(body);
      expect('error' in expected ? expected.error : '').toBe('');
      expect(transcode(body), `request ${i}`).toEqual(expected);
    }
  });

  it('on damaged bodies, either gives the general path its say or writes what it would have stored', () => {
    const random = createRandom(11);
    let undecided = 0;
    for (let i = 0; i < 2_000; i++) {
      const body = Buffer.from(encode(randomRequest(random)));
      const damage = random.int(0, 2);
      if (damage === 0 && body.length > 0) body[random.int(0, body.length - 1)] = random.int(0, 255);
      const cut = damage === 1 ? body.subarray(0, random.int(0, body.length)) : body;
      if (damage === 2) cut.fill(random.int(0, 255), random.int(0, cut.length), random.int(0, cut.length));
      const fast = transcode(cut);
      if (fast === undefined) {
        undecided++;
        continue;
      }
      expect(fast, `damaged request ${i}`).toEqual(generalPath(cut));
    }
    // Most damage is caught by one path or the other; the fast path must not simply give up on everything.
    expect(undecided).toBeLessThan(2_000);
  });

  it('leaves to the general path what it would refuse or is not sure of', () => {
    const span = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'x' };
    const cases = {
      'short trace id': { resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, traceId: Buffer.alloc(15, 1) }] }] }] },
      'missing span id': { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: span.traceId, name: 'x' }] }] }] },
      'bad parent id': { resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, parentSpanId: Buffer.alloc(4) }] }] }] },
      'link without trace id': { resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, links: [{ spanId: Buffer.alloc(8, 3) }] }] }] }] },
    };
    for (const [name, request] of Object.entries(cases)) {
      const body = encode(request);
      expect(transcode(body), name).toBeUndefined();
      expect(generalPath(body), name).toHaveProperty('error');
    }
    // Invalid UTF-8 in a span name: the name field (5, length-delimited) is 2a 01 5a ("Z"); make its byte 0xff.
    const named = Buffer.from(encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, name: 'Z' }] }] }] }));
    expect(transcode(named)).toEqual(generalPath(named));
    named[named.indexOf(Buffer.from([0x2a, 0x01, 0x5a])) + 2] = 0xff;
    expect(transcode(named)).toBeUndefined();
    const deep = deeplyNestedRequest(60);
    expect(transcode(deep)).toBeUndefined();
    expect(generalPath(deep)).toHaveProperty('error');
    expect(transcode(deeplyNestedRequest(10))).toEqual(generalPath(deeplyNestedRequest(10)));
  });

  it('reads two requests written one after the other as one request, as protobuf merging does', () => {
    const span = { traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'first' };
    const one = encode({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] });
    const two = encode({ resourceSpans: [{ scopeSpans: [{ spans: [{ ...span, name: 'second' }] }] }] });
    // Two requests concatenated are one request with both resourceSpans (protobuf merging).
    const merged = Buffer.concat([one, two]);
    expect(transcode(merged)).toEqual(generalPath(merged));
    expect(transcode(merged)?.spans).toBe(2);
  });
});

/** A length-delimited field: tag, length, bytes. */
function field(number: number, bytes: Uint8Array): Buffer {
  const length = protobuf.Writer.create().uint32(bytes.length).finish();
  return Buffer.concat([Buffer.from([(number << 3) | 2]), length, bytes]);
}

/** A request whose one span has an attribute nested `levels` arrays deep (two messages a level), written by hand: protobufjs' own encoder stops at its recursion limit. */
function deeplyNestedRequest(levels: number): Buffer {
  let value = field(1, Buffer.from('bottom'));
  for (let i = 0; i < levels; i++) value = field(5, field(1, value));
  const attribute = Buffer.concat([field(1, Buffer.from('a')), field(2, value)]);
  const span = Buffer.concat([field(1, Buffer.alloc(16, 1)), field(2, Buffer.alloc(8, 2)), field(5, Buffer.from('x')), field(9, attribute)]);
  return field(1, field(2, field(2, span)));
}

// Shared by the collector's tests: one sample trace that exercises every part
// of the OTLP trace model (parent/child, every attribute type, events with
// attributes, a link, an error status, resource attributes, nanosecond
// timestamps), and a canonical form of OTLP JSON so that the reference
// serializer of opentelemetry-js can be compared with what the collector wrote.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';

export const SAMPLE_SERVICE = 'conformance-svc';

export const SAMPLE_RESOURCE_ATTRIBUTES = {
  'service.name': SAMPLE_SERVICE,
  'service.version': '1.2.3',
  'host.cores': 4,
  'feature.enabled': true,
  'load.factor': 0.75,
};

/** Attributes of every OTLP AnyValue kind the SDK can produce, defaults and edge values included. */
export const SAMPLE_ATTRIBUTES = {
  'attr.string': 'héllo ✓ "quoted"',
  'attr.string.empty': '',
  'attr.bool.true': true,
  'attr.bool.false': false,
  'attr.int': 42,
  'attr.int.zero': 0,
  'attr.int.negative': -7,
  'attr.int.max_safe': Number.MAX_SAFE_INTEGER,
  'attr.double': 3.25,
  'attr.double.negative': -0.125,
  'attr.strings': ['a', '', 'c'],
  'attr.bools': [true, false],
  'attr.ints': [1, 0, -3],
  'attr.doubles': [1.5, -0.25],
};

export const SAMPLE_EVENT_ATTRIBUTES = { 'cache.key': 'user:7', 'cache.hits': 3, 'cache.ratio': 0.5, 'cache.ok': false };

export interface SampleRecording {
  provider: TracerProvider;
  memory: InMemorySpanExporter;
}

/** A provider with the sample resource that records into memory and into any extra processors. */
export function createSampleProvider(extraProcessors: SpanProcessor[] = []): SampleRecording {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes(SAMPLE_RESOURCE_ATTRIBUTES),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory }), ...extraProcessors],
  });
  return { provider, memory };
}

/**
 * Emit the sample trace: `other` (a separate root span), `parent` (server, with
 * attributes and an event, at fixed nanosecond times) and `child` (client,
 * linked to `other`, failing with a message). Returns the spans by name.
 */
export function emitSampleTrace(provider: TracerProvider, memory: InMemorySpanExporter): Record<'other' | 'parent' | 'child', ReadableSpan> {
  const tracer = provider.getTracer('faultline-conformance', '0.0.1');
  const other = tracer.startSpan('other-root', { kind: SpanKind.INTERNAL });
  other.end();

  const parent = tracer.startSpan('GET /orders/:id', {
    kind: SpanKind.SERVER,
    attributes: SAMPLE_ATTRIBUTES,
    startTime: [1_700_000_000, 123_456_789],
  });
  parent.addEvent('cache.miss', SAMPLE_EVENT_ATTRIBUTES, [1_700_000_000, 223_456_789]);
  parent.addEvent('no.attributes', undefined, [1_700_000_000, 323_456_789]);

  const child = tracer.startSpan(
    'POST bank/charge',
    {
      kind: SpanKind.CLIENT,
      attributes: { 'server.address': 'bank', 'http.response.status_code': 503 },
      links: [{ context: other.spanContext(), attributes: { 'link.reason': 'retry of' } }],
      startTime: [1_700_000_000, 400_000_001],
    },
    trace.setSpan(context.active(), parent),
  );
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'bank said no' });
  child.end([1_700_000_000, 900_000_999]);
  parent.end([1_700_000_001, 987_654_321]);

  const byName = new Map(memory.getFinishedSpans().map((span) => [span.name, span]));
  const pick = (name: string): ReadableSpan => {
    const span = byName.get(name);
    if (!span) throw new Error(`sample span ${name} was not recorded`);
    return span;
  };
  return { other: pick('other-root'), parent: pick('GET /orders/:id'), child: pick('POST bank/charge') };
}

const ANY_VALUE_KEYS = new Set(['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue']);

/**
 * OTLP JSON as the spec canonically writes it: fields with default values
 * (0, '', false, [], undefined) left out, except AnyValue members, and integer
 * AnyValues as decimal strings. opentelemetry-js' JsonTraceSerializer writes
 * defaults and numeric ints; this brings both sides to one form.
 */
export function canonicalOtlpJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalOtlpJson);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    if (ANY_VALUE_KEYS.has(key)) {
      out[key] = key === 'intValue' ? String(item) : canonicalOtlpJson(item);
      continue;
    }
    if (item === 0 || item === '' || item === false || (Array.isArray(item) && item.length === 0)) continue;
    out[key] = canonicalOtlpJson(item);
  }
  return out;
}

/** `[seconds, nanos]` as the decimal nanosecond string OTLP JSON uses. */
export function hrTimeToNanoString([seconds, nanos]: [number, number]): string {
  return (BigInt(seconds) * 1_000_000_000n + BigInt(nanos)).toString();
}

export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `faultline-${prefix}-`));
}

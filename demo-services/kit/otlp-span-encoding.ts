// OTLP protobuf encoding of finished spans, one span at a time, for
// span-export.ts. Why our own encoder: the SDK's ProtobufTraceSerializer only
// encodes a whole export request from a list of span objects, so its
// BatchSpanProcessor keeps every ended span alive until its batch leaves. Under
// load those spans outlive young-generation collections and are promoted, and
// the traced services spent more on garbage collection than on making spans
// (docs/benchmarks.md, "Cost of instrumentation"). Encoded as soon as it ends,
// a span is a few hundred bytes in a buffer and its objects die young. The
// field numbers are those of opentelemetry/proto/trace/v1/trace.proto and
// common/v1/common.proto; otlp-span-encoding.test.ts checks the output against
// the SDK's serializer, decoded by the collector's protobuf schema.

import type { Attributes, AttributeValue, HrTime, SpanContext } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/** Wire types. */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Span.flags bits saying whether the parent was remote (trace.proto SpanFlags). */
const FLAGS_HAS_IS_REMOTE = 0x100;
const FLAGS_IS_REMOTE = 0x200;

const TWO_32 = 4_294_967_296;

/** A growable protobuf writer. Nested messages reserve one length byte and shift when longer. */
export class ProtoWriter {
  #buffer: Buffer;
  pos = 0;

  constructor(initialBytes = 16 * 1024) {
    this.#buffer = Buffer.allocUnsafe(initialBytes);
  }

  /** The bytes written so far (a view: copy it before writing on). */
  view(): Buffer {
    return this.#buffer.subarray(0, this.pos);
  }

  /** Forget everything written; keeps the buffer. */
  reset(): void {
    this.pos = 0;
  }

  #room(bytes: number): void {
    const needed = this.pos + bytes;
    if (needed <= this.#buffer.length) return;
    let size = this.#buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.#buffer.copy(grown, 0, 0, this.pos);
    this.#buffer = grown;
  }

  tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An unsigned varint of a non-negative integer up to 2^53. */
  varint(value: number): void {
    this.#room(10);
    const buffer = this.#buffer;
    let pos = this.pos;
    if (value < 0x80) {
      buffer[pos] = value;
      this.pos = pos + 1;
      return;
    }
    let v = value;
    for (; v > 0xffffffff; v = Math.floor(v / 0x80)) buffer[pos++] = (v % 0x80) | 0x80;
    for (; v >= 0x80; v >>>= 7) buffer[pos++] = (v & 0x7f) | 0x80;
    buffer[pos++] = v;
    this.pos = pos;
  }
  /** An int64 varint: negative values as their 64-bit two's complement (ten bytes). */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    this.#room(10);
    while (v >= 0x80n) {
      this.#buffer[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buffer[this.pos++] = Number(v);
  }

  fixed32(value: number): void {
    this.#room(4);
    this.#buffer.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /** A fixed64 given as its low and high 32 bits. */
  fixed64(low: number, high: number): void {
    this.#room(8);
    this.#buffer.writeUInt32LE(low >>> 0, this.pos);
    this.#buffer.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(value: number): void {
    this.#room(8);
    this.#buffer.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  string(value: string): void {
    const length = value.length;
    // Short ASCII (names, keys, routes, addresses): copied by a loop, which
    // beats measuring and writing UTF-8 through Buffer's native calls.
    if (length < 0x80) {
      this.#room(length + 1);
      const buffer = this.#buffer;
      const start = this.pos;
      let pos = start + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buffer[pos++] = code;
      }
      if (i === length) {
        buffer[start] = length;
        this.pos = pos;
        return;
      }
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    this.varint(bytes);
    this.#room(bytes);
    this.pos += this.#buffer.write(value, this.pos, 'utf8');
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.#room(value.length);
    this.#buffer.set(value, this.pos);
    this.pos += value.length;
  }

  /** Lowercase hex (trace and span ids) as the bytes it spells. */
  hexBytes(hex: string): void {
    const length = hex.length >>> 1;
    this.varint(length);
    this.#room(length);
    this.pos += this.#buffer.write(hex, this.pos, length, 'hex');
  }

  /** Start a length-delimited field; returns the mark finish() needs. */
  begin(field: number): number {
    this.tag(field, LENGTH_DELIMITED);
    this.#room(1);
    this.pos += 1;
    return this.pos;
  }

  /** Write the length of the field begun at `mark`, moving its content when the length needs more than one byte. */
  finish(mark: number): void {
    const length = this.pos - mark;
    if (length < 0x80) {
      this.#buffer[mark - 1] = length;
      return;
    }
    let extra = 0;
    for (let v = length >>> 7; v > 0; v >>>= 7) extra++;
    this.#room(extra);
    this.#buffer.copy(this.#buffer, mark + extra, mark, this.pos);
    let pos = mark - 1;
    let v = length;
    while (v >= 0x80) {
      this.#buffer[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buffer[pos] = v;
    this.pos += extra;
  }

  /** Raw, already encoded bytes. */
  raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }
}

/** HrTime [seconds, nanoseconds] as fixed64 nanoseconds, exactly (the product passes 2^53). */
function writeTime(writer: ProtoWriter, field: number, [seconds, nanos]: HrTime): void {
  writer.tag(field, FIXED64);
  // seconds * 1e9 = (secondsHigh * 2^16 + secondsLow) * 1e9, each part below 2^53.
  const low16 = (seconds % 0x10000) * 1e9 + nanos;
  const high = Math.floor(seconds / 0x10000) * 1e9;
  // high * 2^16 + low16, split into 32-bit words.
  const highLow = (high % 0x10000) * 0x10000 + (low16 % TWO_32);
  const lowWord = highLow % TWO_32;
  const highWord = Math.floor(high / 0x10000) + Math.floor(low16 / TWO_32) + Math.floor(highLow / TWO_32);
  writer.fixed64(lowWord, highWord);
}

/** AnyValue (common.proto) of an attribute value, or of one element of an array value. */
function writeAnyValue(writer: ProtoWriter, value: unknown): void {
  switch (typeof value) {
    case 'string':
      writer.tag(1, LENGTH_DELIMITED);
      writer.string(value);
      return;
    case 'boolean':
      writer.tag(2, VARINT);
      writer.varint(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isSafeInteger(value)) {
        writer.tag(3, VARINT);
        writer.int64(value);
      } else {
        writer.tag(4, FIXED64);
        writer.double(value);
      }
      return;
    case 'bigint':
      writer.tag(3, VARINT);
      writer.int64(Number(BigInt.asIntN(64, value)));
      return;
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    writer.tag(7, LENGTH_DELIMITED);
    writer.bytes(value);
  } else if (Array.isArray(value)) {
    const array = writer.begin(5);
    for (const item of value) {
      const element = writer.begin(1);
      writeAnyValue(writer, item);
      writer.finish(element);
    }
    writer.finish(array);
  } else if (typeof value === 'object' && value !== null) {
    const list = writer.begin(6);
    for (const [key, item] of Object.entries(value)) writeKeyValue(writer, 1, key, item);
    writer.finish(list);
  }
  // null and undefined (inside arrays): an empty AnyValue.
}

function writeKeyValue(writer: ProtoWriter, field: number, key: string, value: unknown): void {
  const keyValue = writer.begin(field);
  writer.tag(1, LENGTH_DELIMITED);
  writer.string(key);
  const any = writer.begin(2);
  writeAnyValue(writer, value);
  writer.finish(any);
  writer.finish(keyValue);
}

function writeAttributes(writer: ProtoWriter, field: number, attributes: Attributes): void {
  for (const key in attributes) {
    const value: AttributeValue | undefined = attributes[key];
    if (value !== undefined) writeKeyValue(writer, field, key, value);
  }
}

function writeCount(writer: ProtoWriter, field: number, count: number): void {
  if (count > 0) {
    writer.tag(field, VARINT);
    writer.varint(count);
  }
}

function writeTraceState(writer: ProtoWriter, field: number, context: SpanContext): void {
  const state = context.traceState?.serialize();
  if (state) {
    writer.tag(field, LENGTH_DELIMITED);
    writer.string(state);
  }
}

/** One span as a `spans` entry (field 2) of a ScopeSpans message. */
export function writeSpan(writer: ProtoWriter, span: ReadableSpan): void {
  const mark = writer.begin(2);
  const context = span.spanContext();
  writer.tag(1, LENGTH_DELIMITED);
  writer.hexBytes(context.traceId);
  writer.tag(2, LENGTH_DELIMITED);
  writer.hexBytes(context.spanId);
  writeTraceState(writer, 3, context);
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    writer.tag(4, LENGTH_DELIMITED);
    writer.hexBytes(parent.spanId);
  }
  writer.tag(5, LENGTH_DELIMITED);
  writer.string(span.name);
  // The API's SpanKind starts at INTERNAL = 0; the proto's at UNSPECIFIED = 0.
  writer.tag(6, VARINT);
  writer.varint(span.kind + 1);
  writeTime(writer, 7, span.startTime);
  writeTime(writer, 8, span.endTime);
  writeAttributes(writer, 9, span.attributes);
  writeCount(writer, 10, span.droppedAttributesCount);
  for (const event of span.events) {
    const mark = writer.begin(11);
    writeTime(writer, 1, event.time);
    writer.tag(2, LENGTH_DELIMITED);
    writer.string(event.name);
    if (event.attributes) writeAttributes(writer, 3, event.attributes);
    writeCount(writer, 4, event.droppedAttributesCount ?? 0);
    writer.finish(mark);
  }
  writeCount(writer, 12, span.droppedEventsCount);
  for (const link of span.links) {
    const mark = writer.begin(13);
    writer.tag(1, LENGTH_DELIMITED);
    writer.hexBytes(link.context.traceId);
    writer.tag(2, LENGTH_DELIMITED);
    writer.hexBytes(link.context.spanId);
    writeTraceState(writer, 3, link.context);
    if (link.attributes) writeAttributes(writer, 4, link.attributes);
    writeCount(writer, 5, link.droppedAttributesCount ?? 0);
    writer.tag(6, FIXED32);
    writer.fixed32((link.context.traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (link.context.isRemote ? FLAGS_IS_REMOTE : 0));
    writer.finish(mark);
  }
  writeCount(writer, 14, span.droppedLinksCount);
  const status = writer.begin(15);
  if (span.status.message) {
    writer.tag(2, LENGTH_DELIMITED);
    writer.string(span.status.message);
  }
  if (span.status.code) {
    writer.tag(3, VARINT);
    writer.varint(span.status.code);
  }
  writer.finish(status);
  writer.tag(16, FIXED32);
  writer.fixed32((context.traceFlags & 0xff) | FLAGS_HAS_IS_REMOTE | (parent?.isRemote ? FLAGS_IS_REMOTE : 0));
  writer.finish(mark);
}

/** A Resource message's content (attributes, dropped count), to be framed by the caller. */
export function encodeResource(attributes: Attributes): Buffer {
  const writer = new ProtoWriter(512);
  writeAttributes(writer, 1, attributes);
  return Buffer.from(writer.view());
}

/** An InstrumentationScope message's content. */
export function encodeScope(scope: { name: string; version?: string; attributes?: Attributes }): Buffer {
  const writer = new ProtoWriter(256);
  writer.tag(1, LENGTH_DELIMITED);
  writer.string(scope.name);
  if (scope.version) {
    writer.tag(2, LENGTH_DELIMITED);
    writer.string(scope.version);
  }
  if (scope.attributes) writeAttributes(writer, 3, scope.attributes);
  return Buffer.from(writer.view());
}

/** One scope's spans, as written by writeSpan, with the encoded scope they belong to. */
export interface EncodedScopeSpans {
  scope: Uint8Array;
  schemaUrl?: string;
  spans: Uint8Array;
}

/** An ExportTraceServiceRequest with one ResourceSpans holding the given scopes' spans. */
export function encodeExportRequest(resource: Uint8Array, resourceSchemaUrl: string | undefined, scopes: readonly EncodedScopeSpans[]): Buffer {
  let size = resource.length + 32;
  for (const scope of scopes) size += scope.scope.length + scope.spans.length + 32;
  const writer = new ProtoWriter(size);
  const resourceSpans = writer.begin(1);
  const resourceMessage = writer.begin(1);
  writer.raw(resource);
  writer.finish(resourceMessage);
  for (const scope of scopes) {
    const scopeSpans = writer.begin(2);
    const scopeMessage = writer.begin(1);
    writer.raw(scope.scope);
    writer.finish(scopeMessage);
    writer.raw(scope.spans);
    if (scope.schemaUrl) {
      writer.tag(3, LENGTH_DELIMITED);
      writer.string(scope.schemaUrl);
    }
    writer.finish(scopeSpans);
  }
  if (resourceSchemaUrl) {
    writer.tag(3, LENGTH_DELIMITED);
    writer.string(resourceSchemaUrl);
  }
  writer.finish(resourceSpans);
  return writer.view();
}

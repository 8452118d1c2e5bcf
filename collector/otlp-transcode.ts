// OTLP protobuf trace export requests straight to their OTLP/JSON line, in one
// pass over the bytes, for the collector's ingest hot path. The general path
// decodes with protobufjs into objects, converts those to OTLP/JSON objects
// (otlp-json.ts) and stringifies them: three copies of every span, and most
// of the collector's CPU under load (docs/benchmarks.md). This writes the same
// bytes (same keys, key order, defaults left out, ids as hex, 64-bit integers
// as decimal strings, strings copied from their UTF-8 with JSON's escapes)
// without building either object tree or any string per field. It walks the
// same protobufjs schema by reflection, so the two cannot disagree on fields.
// Each message is read twice: once to find where its fields are, once to
// write them in the schema's order (the JSON key order), which is not always
// the wire's (Span.flags is field 16 but declared fifth).
//
// It is a fast path, not a second validator: whatever it is not sure of
// (a wire type that does not match the schema, a truncated field, invalid
// UTF-8, an id of the wrong size, deep nesting, a oneof set twice, packed
// scalars) makes it return undefined, and the caller takes the general path,
// which accepts or refuses the request with its usual error.
import { isUtf8 } from 'node:buffer';
import protobuf from 'protobufjs';
import { MAX_MESSAGE_DEPTH } from './otlp-signals.ts';
import { int64Text } from './otlp-json.ts';
import { HEX_BYTES_FIELDS, OTLP_ID_BYTES, OTLP_TRACE_TYPES, otlpRoot } from './otlp-schema.ts';

type ScalarKind =
  | 'string'
  | 'hex'
  | 'base64'
  | 'bool'
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64';

interface FieldWire {
  /** Position in the schema's field order, which is the JSON key order. */
  index: number;
  /** `"name":` as bytes. */
  key: Buffer;
  repeated: boolean;
  /** A member of a oneof: written even with its default value, since being set is the value. */
  oneof: boolean;
  wireType: number;
  kind: ScalarKind | 'message';
  message?: MessageWire;
  /** traceId, spanId, parentSpanId: which id, and the size it must have when set. */
  id?: { name: keyof typeof OTLP_ID_BYTES; size: number };
}

interface MessageWire {
  fields: FieldWire[];
  /** Fields by field number (a sparse array: OTLP numbers are small). */
  byNumber: Array<FieldWire | undefined>;
  /** Span and Link: trace and span ids are required, of their sizes. */
  requiredIds: boolean;
  countsAsItem: boolean;
}


const WIRE_TYPE: Readonly<Record<string, number>> = {
  double: 1,
  fixed64: 1,
  sfixed64: 1,
  float: 5,
  fixed32: 5,
  sfixed32: 5,
  string: 2,
  bytes: 2,
};

const wires = new Map<protobuf.Type, MessageWire>();
const SPAN = otlpRoot.lookupType('opentelemetry.proto.trace.v1.Span');
const LINK = otlpRoot.lookupType('opentelemetry.proto.trace.v1.Link');

function wireFor(type: protobuf.Type): MessageWire {
  const existing = wires.get(type);
  if (existing) return existing;
  const wire: MessageWire = { fields: [], byNumber: [], requiredIds: type === SPAN || type === LINK, countsAsItem: type === SPAN };
  wires.set(type, wire);
  type.fieldsArray.forEach((field, index) => {
    field.resolve();
    const resolved = field.resolvedType;
    let kind: FieldWire['kind'];
    if (resolved instanceof protobuf.Type) kind = 'message';
    else if (resolved instanceof protobuf.Enum) kind = 'int32';
    else if (field.type === 'bytes') kind = HEX_BYTES_FIELDS.has(field.name) ? 'hex' : 'base64';
    else kind = field.type as ScalarKind;
    const entry: FieldWire = {
      index,
      key: Buffer.from(`${JSON.stringify(field.name)}:`),
      repeated: field.repeated,
      oneof: field.partOf !== null,
      wireType: kind === 'message' || kind === 'hex' || kind === 'base64' ? 2 : (WIRE_TYPE[kind] ?? 0),
      kind,
    };
    if (resolved instanceof protobuf.Type) entry.message = wireFor(resolved);
    if (kind === 'hex') {
      const name = field.name as keyof typeof OTLP_ID_BYTES;
      entry.id = { name, size: OTLP_ID_BYTES[name] };
    }
    wire.fields.push(entry);
    wire.byNumber[field.id] = entry;
  });
  return wire;
}

const TRACE_REQUEST = wireFor(OTLP_TRACE_TYPES.ExportTraceServiceRequest);

/** Thrown inside the walk when the fast path gives up; never escapes transcodeTraceRequest. */
class NotSure extends Error {}
const notSure = new NotSure();

const HEX_DIGITS = Buffer.from('0123456789abcdef');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** JSON.stringify's short escapes for control characters; the others are written \u00xx. */
const SHORT_ESCAPES: Readonly<Record<number, number>> = { 0x08: 0x62, 0x09: 0x74, 0x0a: 0x6e, 0x0c: 0x66, 0x0d: 0x72 };

/** Where one message's fields are: pairs of (field index, position of the value), in wire order. Pooled by depth. */
class FieldPositions {
  count = 0;
  index = new Int32Array(64);
  pos = new Int32Array(64);

  add(fieldIndex: number, valuePos: number): void {
    if (this.count === this.index.length) {
      const index = new Int32Array(this.count * 2);
      const pos = new Int32Array(this.count * 2);
      index.set(this.index);
      pos.set(this.pos);
      this.index = index;
      this.pos = pos;
    }
    this.index[this.count] = fieldIndex;
    this.pos[this.count] = valuePos;
    this.count++;
  }
}

class Walk {
  pos = 0;
  items = 0;
  /** The last varint read, as 32-bit halves (for 64-bit integers). */
  low = 0;
  high = 0;
  readonly buf: Buffer;
  out: Buffer;
  at = 0;
  readonly #positions: FieldPositions[] = [];

  constructor(buf: Buffer) {
    this.buf = buf;
    // JSON is about twice the protobuf; grown when needed.
    this.out = Buffer.allocUnsafe(buf.length * 3 + 256);
  }

  /** A varint into low/high; returns it as a number (exact up to 2^53). */
  varint(): number {
    const buf = this.buf;
    let low = 0;
    let high = 0;
    let shift = 0;
    let byte: number;
    do {
      if (this.pos >= buf.length) throw notSure;
      byte = buf[this.pos++] as number;
      if (shift < 28) low |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        low |= (byte & 0x0f) << 28;
        high = (byte & 0x7f) >> 4;
      } else if (shift < 64) high |= (byte & 0x7f) << (shift - 32);
      else throw notSure;
      shift += 7;
    } while (byte >= 0x80);
    this.low = low >>> 0;
    this.high = high >>> 0;
    return this.high * 4_294_967_296 + this.low;
  }

  /** A tag or a length: a varint that must fit in 31 bits (protobufjs would truncate a longer one; leave those to it). */
  length(): number {
    const value = this.varint();
    if (value > 0x7fffffff) throw notSure;
    return value;
  }

  // Output.

  room(bytes: number): void {
    if (this.at + bytes <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + bytes));
    this.out.copy(grown, 0, 0, this.at);
    this.out = grown;
  }

  byte(value: number): void {
    this.room(1);
    this.out[this.at++] = value;
  }

  /** Short bytes (keys): a loop beats Buffer#copy's native call at this size. */
  raw(bytes: Buffer): void {
    const length = bytes.length;
    this.room(length);
    const out = this.out;
    let at = this.at;
    for (let i = 0; i < length; i++) out[at++] = bytes[i] as number;
    this.at = at;
  }

  ascii(text: string): void {
    const length = text.length;
    this.room(length);
    const out = this.out;
    let at = this.at;
    for (let i = 0; i < length; i++) out[at++] = text.charCodeAt(i);
    this.at = at;
  }

  /** Bytes from the input between start and end as a JSON string: valid UTF-8 copied, JSON's escapes applied. */
  jsonString(start: number, end: number): void {
    const buf = this.buf;
    let ascii = true;
    // Worst case: every byte a \u00xx escape.
    this.room((end - start) * 6 + 2);
    const out = this.out;
    let at = this.at;
    out[at++] = QUOTE;
    for (let i = start; i < end; i++) {
      const byte = buf[i] as number;
      if (byte >= 0x20 && byte !== QUOTE && byte !== BACKSLASH) {
        if (byte >= 0x80) ascii = false;
        out[at++] = byte;
      } else if (byte === QUOTE || byte === BACKSLASH) {
        out[at++] = BACKSLASH;
        out[at++] = byte;
      } else {
        out[at++] = BACKSLASH;
        const short = SHORT_ESCAPES[byte];
        if (short !== undefined) out[at++] = short;
        else {
          out[at++] = 0x75; // u
          out[at++] = 0x30;
          out[at++] = 0x30;
          out[at++] = HEX_DIGITS[byte >> 4] as number;
          out[at++] = HEX_DIGITS[byte & 0xf] as number;
        }
      }
    }
    out[at++] = QUOTE;
    // protobufjs refuses invalid UTF-8 in string fields; so does the fast path.
    if (!ascii && !isUtf8(buf.subarray(start, end))) throw notSure;
    this.at = at;
  }

  hexString(start: number, end: number): void {
    this.room((end - start) * 2 + 2);
    const out = this.out;
    let at = this.at;
    out[at++] = QUOTE;
    for (let i = start; i < end; i++) {
      const byte = this.buf[i] as number;
      out[at++] = HEX_DIGITS[byte >> 4] as number;
      out[at++] = HEX_DIGITS[byte & 0xf] as number;
    }
    out[at++] = QUOTE;
    this.at = at;
  }

  // Messages.

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else if (wireType === 2) {
      const length = this.length();
      this.pos += length;
    } else throw notSure;
    if (this.pos > this.buf.length) throw notSure;
  }

  /** Write the message between pos and end as a JSON object; leaves pos at end. */
  message(wire: MessageWire, end: number, depth: number): void {
    if (depth > MAX_MESSAGE_DEPTH) throw notSure;
    const positions = (this.#positions[depth] ??= new FieldPositions());
    positions.count = 0;
    // First pass: where each field is; check wire types, bounds, ids and oneofs.
    let oneofMember = -1;
    let traceIdSize = 0;
    let spanIdSize = 0;
    while (this.pos < end) {
      const tag = this.length();
      const number = tag >>> 3;
      const wireType = tag & 7;
      if (number === 0) throw notSure;
      const field = wire.byNumber[number];
      if (field === undefined) {
        this.skip(wireType);
        continue;
      }
      if (wireType !== field.wireType) throw notSure;
      positions.add(field.index, this.pos);
      if (field.oneof) {
        // OTLP messages have at most one oneof (AnyValue's value); two members set is left to protobufjs.
        if (oneofMember !== -1 && oneofMember !== field.index) throw notSure;
        oneofMember = field.index;
      }
      if (wireType === 2) {
        const length = this.length();
        this.pos += length;
        if (field.id) {
          if (length !== 0 && length !== field.id.size) throw notSure;
          if (field.id.name === 'traceId') traceIdSize = length;
          else if (field.id.name === 'spanId') spanIdSize = length;
        }
      } else this.skip(wireType);
      if (this.pos > end) throw notSure;
    }
    if (this.pos !== end) throw notSure;
    if (wire.requiredIds && (traceIdSize !== OTLP_ID_BYTES.traceId || spanIdSize !== OTLP_ID_BYTES.spanId)) throw notSure;
    // Second pass: write the fields in schema order; the last of a singular field wins, as when decoding.
    const count = positions.count;
    const index = positions.index;
    const valuePos = positions.pos;
    this.byte(0x7b); // {
    let first = true;
    for (const field of wire.fields) {
      if (field.repeated) {
        let opened = false;
        for (let i = 0; i < count; i++) {
          if (index[i] !== field.index) continue;
          if (!opened) {
            if (!first) this.byte(0x2c);
            this.raw(field.key);
            this.byte(0x5b); // [
            opened = true;
            first = false;
          } else this.byte(0x2c);
          this.pos = valuePos[i] as number;
          this.value(field, depth, true);
        }
        if (opened) this.byte(0x5d); // ]
        continue;
      }
      let last = -1;
      for (let i = count - 1; i >= 0; i--) {
        if (index[i] === field.index) {
          last = i;
          break;
        }
      }
      if (last === -1) continue;
      const mark = this.at;
      if (!first) this.byte(0x2c);
      this.raw(field.key);
      this.pos = valuePos[last] as number;
      if (this.value(field, depth, field.oneof)) first = false;
      else this.at = mark; // a default value: left out
    }
    this.byte(0x7d); // }
    if (wire.countsAsItem) this.items++;
    this.pos = end;
  }

  /** Write the value at pos; false when it is the field's default and `always` is not set (nothing useful written). */
  value(field: FieldWire, depth: number, always: boolean): boolean {
    const buf = this.buf;
    switch (field.kind) {
      case 'message': {
        const length = this.length();
        // The child's passes use the next depth's positions; this depth's stay as they are.
        this.message(field.message as MessageWire, this.pos + length, depth + 1);
        return true;
      }
      case 'string':
      case 'hex':
      case 'base64': {
        const length = this.length();
        if (length === 0 && !always) return false;
        const start = this.pos;
        if (field.kind === 'string') this.jsonString(start, start + length);
        else if (field.kind === 'hex') this.hexString(start, start + length);
        else this.ascii(`"${buf.toString('base64', start, start + length)}"`);
        return true;
      }
      case 'bool':
        // A bool wider than 32 bits: leave its reading to protobufjs.
        if (this.varint() > 0xffffffff) throw notSure;
        if (this.low === 0 && !always) return false;
        this.ascii(this.low === 0 ? 'false' : 'true');
        return true;
      case 'int32':
      case 'uint32':
      case 'sint32': {
        this.varint();
        const value = field.kind === 'int32' ? this.low | 0 : field.kind === 'uint32' ? this.low : (this.low >>> 1) ^ -(this.low & 1);
        if (value === 0 && !always) return false;
        this.ascii(String(value));
        return true;
      }
      case 'int64':
      case 'uint64':
        this.varint();
        return this.int64(this.low, this.high, field.kind === 'uint64', always);
      case 'sint64': {
        this.varint();
        // Zigzag over 64 bits.
        const n = (BigInt(this.high) << 32n) | BigInt(this.low);
        const value = (n >> 1n) ^ -(n & 1n);
        if (value === 0n && !always) return false;
        this.ascii(`"${value}"`);
        return true;
      }
      case 'fixed64':
      case 'sfixed64':
        return this.int64(buf.readUInt32LE(this.pos), buf.readUInt32LE(this.pos + 4), field.kind === 'fixed64', always);
      case 'fixed32':
      case 'sfixed32': {
        const value = field.kind === 'fixed32' ? buf.readUInt32LE(this.pos) : buf.readInt32LE(this.pos);
        if (value === 0 && !always) return false;
        this.ascii(String(value));
        return true;
      }
      case 'double':
      case 'float': {
        const value = field.kind === 'double' ? buf.readDoubleLE(this.pos) : buf.readFloatLE(this.pos);
        if (value === 0 && !always) return false;
        // Proto3 JSON writes non-finite floats as strings; JSON.stringify writes -0 as 0.
        this.ascii(Number.isFinite(value) ? JSON.stringify(value) : `"${value}"`);
        return true;
      }
      default:
        throw notSure;
    }
  }

  int64(low: number, high: number, unsigned: boolean, always: boolean): boolean {
    if (low === 0 && high === 0 && !always) return false;
    this.ascii(`"${int64Text(low, high, unsigned)}"`);
    return true;
  }
}

/**
 * An ExportTraceServiceRequest body as the OTLP/JSON line (UTF-8, without
 * newline) the general path would store, and its span count; undefined when
 * the general path must decide.
 */
export function transcodeTraceRequest(body: Uint8Array): { json: Buffer; spans: number } | undefined {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const walk = new Walk(buf);
  try {
    walk.message(TRACE_REQUEST, buf.length, 0);
    return { json: walk.out.subarray(0, walk.at), spans: walk.items };
  } catch (error) {
    if (error === notSure) return undefined;
    throw error;
  }
}

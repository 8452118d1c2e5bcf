// Bounded work per export request. A request's size is capped before and
// after decompression (maxRequestBytes), but size alone does not bound what
// decoding it costs: 16 MiB of `[` is 16 million nested arrays for
// JSON.parse, and 16 MiB of empty protobuf messages is 8 million objects for
// protobufjs (seconds of the event loop and a gigabyte of heap). So a cheap
// pass over the bytes, allocating nothing, counts what decoding would build
// and how deep it nests, and stops at the first limit passed:
//
// - JSON: nesting depth at most MAX_JSON_DEPTH (what MAX_MESSAGE_DEPTH
//   messages can take: an object and an array per level), and at most
//   MAX_REQUEST_ELEMENTS values (each object, array and comma outside
//   strings counts one).
// - protobuf: following the schema, message nesting at most
//   MAX_MESSAGE_DEPTH and at most MAX_REQUEST_ELEMENTS fields (each field
//   occurrence, each value of a packed list; a packed varint list counts
//   its bytes).
//
// The pass is resumable: the HTTP receiver feeds it the body as gzip
// inflates it, so a bomb is refused after its first few hundred kilobytes,
// not after 16 MiB of inflating. Too deep is a malformed request (400,
// INVALID_ARGUMENT); too many elements is too large (413; INVALID_ARGUMENT on
// gRPC, so exporters do not retry it). Measured (docs/benchmarks.md): the
// pass costs ~0.4 µs per span of an ordinary batch, stops a hostile body
// within milliseconds, and decoding what it lets through (at most 100,000
// elements) takes ~60 ms and well under 100 MB.
//
// A body that cannot be walked (truncated, a wire type that does not fit) is
// left to the decoder, which refuses it with its usual error.
import protobuf from 'protobufjs';
import { CollectorError } from './collector-error.ts';
import { MAX_MESSAGE_DEPTH } from './otlp-signals.ts';
import type { SignalSpec } from './otlp-signals.ts';

/** Most values (JSON) or fields (protobuf) one export request may hold. */
export const MAX_REQUEST_ELEMENTS = 100_000;
/** Deepest JSON nesting: an object and an array for each message level, and the request itself. */
export const MAX_JSON_DEPTH = 2 * MAX_MESSAGE_DEPTH + 2;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** In message levels, as the decoders say it (a JSON level is an object and an array per message). */
function tooDeep(spec: SignalSpec): CollectorError {
  return new CollectorError('MALFORMED_OTLP', `malformed ${spec.requestType.name}: nested deeper than ${MAX_MESSAGE_DEPTH} levels`);
}

function tooComplex(spec: SignalSpec, what: string): CollectorError {
  return new CollectorError('TOO_COMPLEX', `${spec.requestType.name} holds more than ${MAX_REQUEST_ELEMENTS} ${what}; send smaller batches`);
}

/** The limits checked over a body as it arrives. */
export interface RequestLimitCheck {
  /** `bytes` is the body so far, each call's a longer prefix of the same body. Throws CollectorError at the first limit passed. */
  update(bytes: Buffer): void;
}

/** The check for a JSON body: depth and values, strings skipped with native searches. */
export function jsonLimitCheck(spec: SignalSpec): RequestLimitCheck {
  let i = 0;
  let depth = 0;
  let elements = 0;
  let inString = false;
  return {
    update(bytes) {
      const n = bytes.length;
      // Next quote and backslash at or after i inside a string, found once each and reused: linear however they alternate.
      const next = (byte: number): number => {
        const at = bytes.indexOf(byte, i);
        return at === -1 ? n : at;
      };
      let quoteAt = -1;
      let backslashAt = -1;
      while (i < n) {
        if (inString) {
          if (quoteAt < i) quoteAt = next(QUOTE);
          if (backslashAt < i) backslashAt = next(BACKSLASH);
          if (backslashAt < quoteAt) {
            // The escaped byte may not have arrived yet: i then points past what is here, and the next update starts there.
            i = backslashAt + 2;
          } else if (quoteAt < n) {
            inString = false;
            i = quoteAt + 1;
          } else {
            i = n;
          }
          continue;
        }
        const byte = bytes[i++] as number;
        if (byte === QUOTE) {
          inString = true;
        } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
          if (++depth > MAX_JSON_DEPTH) throw tooDeep(spec);
          if (++elements > MAX_REQUEST_ELEMENTS) throw tooComplex(spec, 'JSON values');
        } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
          depth--;
        } else if (byte === COMMA) {
          if (++elements > MAX_REQUEST_ELEMENTS) throw tooComplex(spec, 'JSON values');
        }
      }
    },
  };
}

/** How the walk treats each field of a message: descend, count a packed list, or skip. */
interface FieldPlan {
  message?: MessagePlan;
  /** Packed numeric list: bytes per value, or 1 for varints (each takes at least one byte). */
  packedSize?: number;
}
type MessagePlan = Array<FieldPlan | undefined>;

const plans = new Map<protobuf.Type, MessagePlan>();
const FIXED_SIZE: Readonly<Record<string, number>> = { double: 8, fixed64: 8, sfixed64: 8, float: 4, fixed32: 4, sfixed32: 4 };

function planFor(type: protobuf.Type): MessagePlan {
  const known = plans.get(type);
  if (known) return known;
  const plan: MessagePlan = [];
  // Registered before its fields are planned: OTLP's AnyValue is recursive.
  plans.set(type, plan);
  for (const field of type.fieldsArray) {
    field.resolve();
    if (field.resolvedType instanceof protobuf.Type) plan[field.id] = { message: planFor(field.resolvedType) };
    else if (field.repeated && field.type !== 'string' && field.type !== 'bytes') plan[field.id] = { packedSize: FIXED_SIZE[field.type] ?? 1 };
  }
  return plan;
}

/** The check for a protobuf body: a walk over the wire format, following the schema. */
export function protobufLimitCheck(spec: SignalSpec): RequestLimitCheck {
  const parents: Array<{ plan: MessagePlan; end: number }> = [];
  let plan = planFor(spec.requestType);
  // The request's own end is not known until the whole body is here.
  let end = Number.POSITIVE_INFINITY;
  let pos = 0;
  let elements = 0;
  /** Set when the body cannot be walked: the decoder will refuse it. */
  let unwalkable = false;
  return {
    update(body) {
      const filled = body.length;
      // Varints are read inline (one byte is the common case): this runs on every large request, on the ingest hot path.
      while (!unwalkable) {
        if (pos >= end) {
          const parent = parents.pop();
          if (parent === undefined || pos > end) {
            unwalkable = true;
            return;
          }
          plan = parent.plan;
          end = parent.end;
          continue;
        }
        if (pos >= filled) return;
        const fieldStart = pos;
        let tag = body[pos++] as number;
        if (tag >= 0x80) {
          tag &= 0x7f;
          for (let shift = 7; ; shift += 7) {
            if (pos >= filled) {
              pos = fieldStart;
              return;
            }
            const byte = body[pos++] as number;
            tag += (byte & 0x7f) * 2 ** shift;
            if (byte < 0x80) break;
            if (shift >= 28) unwalkable = true;
          }
        }
        if (++elements > MAX_REQUEST_ELEMENTS) throw tooComplex(spec, 'fields');
        const wireType = tag & 7;
        if (wireType === 2) {
          let length = 0;
          for (let shift = 0; ; shift += 7) {
            if (pos >= filled) {
              // Read the whole field again when more has arrived.
              pos = fieldStart;
              elements--;
              return;
            }
            const byte = body[pos++] as number;
            length += (byte & 0x7f) * 2 ** shift;
            if (byte < 0x80) break;
            if (shift >= 28) unwalkable = true;
          }
          if (pos + length > end) {
            unwalkable = true;
            return;
          }
          const field = plan[(tag - wireType) / 8];
          if (field?.message !== undefined) {
            if (parents.length >= MAX_MESSAGE_DEPTH) throw tooDeep(spec);
            parents.push({ plan, end });
            plan = field.message;
            end = pos + length;
            continue;
          }
          if (field?.packedSize !== undefined) {
            elements += Math.ceil(length / field.packedSize);
            if (elements > MAX_REQUEST_ELEMENTS) throw tooComplex(spec, 'fields');
          }
          // May point past what has arrived: the walk resumes there.
          pos += length;
        } else if (wireType === 0) {
          for (;;) {
            if (pos >= filled) {
              pos = fieldStart;
              elements--;
              return;
            }
            if ((body[pos++] as number) < 0x80) break;
          }
        } else if (wireType === 1) {
          pos += 8;
        } else if (wireType === 5) {
          pos += 4;
        } else {
          unwalkable = true;
        }
      }
    },
  };
}

/** Refuse a whole JSON body that nests too deeply or holds too many values; throws CollectorError. */
export function checkJsonLimits(spec: SignalSpec, body: Uint8Array): void {
  jsonLimitCheck(spec).update(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length));
}

/** Refuse a whole protobuf body that nests too deeply or holds too many fields; throws CollectorError. */
export function checkProtobufLimits(spec: SignalSpec, body: Uint8Array): void {
  // Every field takes at least one byte: a small body cannot hold too many, and protobufjs bounds its depth.
  if (body.length <= MAX_REQUEST_ELEMENTS) return;
  protobufLimitCheck(spec).update(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.length));
}

/** The check for a body in its encoding. */
export function requestLimitCheck(spec: SignalSpec, encoding: 'protobuf' | 'json'): RequestLimitCheck {
  return encoding === 'json' ? jsonLimitCheck(spec) : protobufLimitCheck(spec);
}

// Decoded OTLP protobuf messages to OTLP/JSON, as the OTLP specification's
// JSON encoding says: lowerCamelCase keys, trace and span ids as lowercase hex
// (not base64), other bytes as base64, 64-bit integers as decimal strings,
// enums as integers, fields holding their default value left out (except a
// oneof member, whose presence is the value). The result is what the
// OpenTelemetry Collector's file exporter writes and Jaeger UI imports.
//
// Written here rather than with protobufjs' toObject because toObject cannot
// hex-encode ids nor drop explicit defaults. The converter walks the schema by
// reflection, with one plan per message type built once at load time, so any
// message added to the schema (metrics, logs) converts without new code.
import protobuf from 'protobufjs';
import { HEX_BYTES_FIELDS, OTLP_TRACE_TYPES, otlpRoot } from './otlp-schema.ts';
import type { DecodedExportTraceServiceRequest } from './otlp-schema.ts';


export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// Shapes of the OTLP/JSON trace documents. Readers also accept numbers where
// this converter writes decimal strings, as some producers do.
export interface OtlpAnyValueJson {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: OtlpAnyValueJson[] };
  kvlistValue?: { values?: OtlpKeyValueJson[] };
  bytesValue?: string;
}
export interface OtlpKeyValueJson {
  key?: string;
  value?: OtlpAnyValueJson;
}
export interface OtlpEventJson {
  timeUnixNano?: string | number;
  name?: string;
  attributes?: OtlpKeyValueJson[];
  droppedAttributesCount?: number;
}
export interface OtlpLinkJson {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  attributes?: OtlpKeyValueJson[];
  droppedAttributesCount?: number;
  flags?: number;
}
export interface OtlpSpanJson {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  parentSpanId?: string;
  flags?: number;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: OtlpKeyValueJson[];
  droppedAttributesCount?: number;
  events?: OtlpEventJson[];
  droppedEventsCount?: number;
  links?: OtlpLinkJson[];
  droppedLinksCount?: number;
  status?: { message?: string; code?: number };
}
export interface OtlpScopeSpansJson {
  scope?: { name?: string; version?: string; attributes?: OtlpKeyValueJson[]; droppedAttributesCount?: number };
  spans?: OtlpSpanJson[];
  schemaUrl?: string;
}
export interface OtlpResourceSpansJson {
  resource?: { attributes?: OtlpKeyValueJson[]; droppedAttributesCount?: number };
  scopeSpans?: OtlpScopeSpansJson[];
  schemaUrl?: string;
}
/** One line of traces.jsonl: an OTLP TracesData in JSON. */
export interface OtlpTracesDataJson {
  resourceSpans?: OtlpResourceSpansJson[];
}

interface FieldPlan {
  name: string;
  repeated: boolean;
  /** A oneof member is written whenever it is set, even with a default value. */
  alwaysWrite: boolean;
  convert: (value: unknown) => JsonValue;
  isDefault: (json: JsonValue) => boolean;
}

const plans = new Map<protobuf.Type, FieldPlan[]>();

/** Convert a decoded message of `type` to its OTLP/JSON object. */
export function messageToOtlpJson(type: protobuf.Type, message: object): JsonObject {
  const plan = plans.get(type) ?? planFor(type);
  const record = message as Record<string, unknown>;
  const out: JsonObject = {};
  for (const field of plan) {
    const value = record[field.name];
    if (value === undefined || value === null) continue;
    if (field.repeated) {
      const items = value as unknown[];
      if (items.length === 0) continue;
      const converted = new Array<JsonValue>(items.length);
      for (let i = 0; i < items.length; i++) converted[i] = field.convert(items[i]);
      out[field.name] = converted;
      continue;
    }
    // Unset fields of a decoded message read as defaults from its prototype; a
    // oneof member counts only when set on the message itself.
    if (field.alwaysWrite && !Object.hasOwn(record, field.name)) continue;
    const json = field.convert(value);
    if (!field.alwaysWrite && field.isDefault(json)) continue;
    out[field.name] = json;
  }
  return out;
}

/** Convert a decoded ExportTraceServiceRequest (or TracesData, same shape) to one OTLP/JSON TracesData. */
export function traceRequestToOtlpJson(request: DecodedExportTraceServiceRequest): OtlpTracesDataJson {
  return messageToOtlpJson(OTLP_TRACE_TYPES.ExportTraceServiceRequest, request) as OtlpTracesDataJson;
}

function planFor(type: protobuf.Type): FieldPlan[] {
  const plan: FieldPlan[] = [];
  // Registered before the fields are planned, so recursive types (AnyValue) terminate.
  plans.set(type, plan);
  for (const field of type.fieldsArray) {
    field.resolve();
    plan.push({
      name: field.name,
      repeated: field.repeated,
      alwaysWrite: field.partOf !== null,
      ...converterFor(field),
    });
  }
  return plan;
}

function converterFor(field: protobuf.Field): Pick<FieldPlan, 'convert' | 'isDefault'> {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    return { convert: (value) => messageToOtlpJson(resolved, value as object), isDefault: () => false };
  }
  if (resolved instanceof protobuf.Enum) {
    return { convert: (value) => Number(value), isDefault: (json) => json === 0 };
  }
  if (field.type === 'bytes') {
    const encoding = HEX_BYTES_FIELDS.has(field.name) ? 'hex' : 'base64';
    return { convert: (value) => bytesToString(value as Uint8Array, encoding), isDefault: (json) => json === '' };
  }
  if (field.long) {
    return { convert: int64ToString, isDefault: (json) => json === '0' };
  }
  switch (field.type) {
    case 'double':
    case 'float':
      return { convert: (value) => floatToJson(value as number), isDefault: (json) => json === 0 };
    case 'string':
      return { convert: (value) => value as string, isDefault: (json) => json === '' };
    case 'bool':
      return { convert: (value) => value as boolean, isDefault: (json) => json === false };
    default:
      return { convert: (value) => value as number, isDefault: (json) => json === 0 };
  }
}

/** Decoded bytes are Uint8Arrays (Buffers under Node); an absent field reads as protobufjs' empty default array. */
function bytesToString(bytes: Uint8Array | number[], encoding: 'hex' | 'base64'): string {
  const buffer = ArrayBuffer.isView(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes);
  return buffer.toString(encoding);
}

/**
 * A decoded 64-bit integer (a Long from protobufjs, or a number or decimal
 * string from the JSON reader) as its decimal string. Long's own toString
 * divides in a loop; this is several times faster, and timestamps make up
 * most of a span's integers.
 */
function int64ToString(value: unknown): string {
  if (typeof value !== 'object' || value === null) return String(value);
  const { low, high, unsigned } = value as { low: number; high: number; unsigned?: boolean };
  return int64Text(low >>> 0, high >>> 0, unsigned === true);
}

/** A 64-bit integer given as its unsigned 32-bit halves, as a decimal string (signed unless `unsigned`). */
export function int64Text(low: number, high: number, unsigned: boolean): string {
  if (unsigned || high < 0x80000000) {
    const number = high * 4_294_967_296 + low;
    return number <= Number.MAX_SAFE_INTEGER ? String(number) : ((BigInt(high) << 32n) | BigInt(low)).toString();
  }
  return BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low)).toString();
}

/** Proto3 JSON writes non-finite floats as the strings "NaN", "Infinity", "-Infinity". */
function floatToJson(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

// Build every plan now, off the request path.
for (const type of allTypes(otlpRoot)) if (!plans.has(type)) planFor(type);

function* allTypes(namespace: protobuf.NamespaceBase): Generator<protobuf.Type> {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) yield nested;
    if (nested instanceof protobuf.Namespace) yield* allTypes(nested);
  }
}

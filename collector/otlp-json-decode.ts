// OTLP/JSON request bodies (OTLP/HTTP with application/json) to the same
// decoded shape the protobuf decoder gives, so one pipeline handles both. The
// walk follows the protobuf schema by reflection and is strict where protobufjs'
// fromObject is lenient: a value of the wrong JSON type, an id that is not hex
// of the right size, an int64 that is not an integer, nesting deeper than
// MAX_MESSAGE_DEPTH are errors naming the field's path. As the OTLP spec asks,
// unknown fields are ignored, keys may be lowerCamelCase or the proto's
// snake_case, enums may be integers or their names, and trace/span ids are hex.
import protobuf from 'protobufjs';
import { CollectorError } from './collector-error.ts';
import { HEX_BYTES_FIELDS } from './otlp-schema.ts';
import { MAX_MESSAGE_DEPTH, validateExportRequest } from './otlp-signals.ts';
import type { DecodedExportRequest, SignalSpec } from './otlp-signals.ts';


type FieldReader = (value: unknown, path: string, depth: number) => unknown;

interface FieldInput {
  name: string;
  repeated: boolean;
  read: FieldReader;
}

const readers = new Map<protobuf.Type, Map<string, FieldInput>>();

class JsonInputError extends Error {}

function fail(path: string, message: string): never {
  throw new JsonInputError(`${path}: ${message}`);
}

/** Parse and validate an OTLP/JSON export request body; throws CollectorError MALFORMED_OTLP naming the bad field. */
export function decodeJsonExportRequest(spec: SignalSpec, text: string): DecodedExportRequest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CollectorError('MALFORMED_OTLP', `malformed ${spec.requestType.name}: not JSON: ${(error as Error).message}`, { cause: error });
  }
  let request: DecodedExportRequest;
  try {
    request = readMessage(spec.requestType, json, '(request)', 0);
  } catch (error) {
    if (error instanceof JsonInputError) {
      throw new CollectorError('MALFORMED_OTLP', `invalid ${spec.requestType.name}: ${error.message.replace(/^\(request\)\./, '')}`);
    }
    throw error;
  }
  return validateExportRequest(spec, request);
}

function readMessage(type: protobuf.Type, value: unknown, path: string, depth: number): Record<string, unknown> {
  if (depth > MAX_MESSAGE_DEPTH) fail(path, `nested deeper than ${MAX_MESSAGE_DEPTH} levels`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, `expected an object (${type.name})`);
  const fields = readers.get(type) ?? planFor(type);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const field = fields.get(key);
    if (field === undefined || raw === null) continue;
    const fieldPath = `${path}.${key}`;
    if (field.repeated) {
      if (!Array.isArray(raw)) fail(fieldPath, 'expected an array');
      const items = new Array<unknown>(raw.length);
      for (let i = 0; i < raw.length; i++) items[i] = field.read(raw[i], `${fieldPath}[${i}]`, depth + 1);
      out[field.name] = items;
    } else {
      out[field.name] = field.read(raw, fieldPath, depth + 1);
    }
  }
  return out;
}

function planFor(type: protobuf.Type): Map<string, FieldInput> {
  const plan = new Map<string, FieldInput>();
  readers.set(type, plan);
  for (const field of type.fieldsArray) {
    field.resolve();
    const input: FieldInput = { name: field.name, repeated: field.repeated, read: readerFor(field) };
    plan.set(field.name, input);
    const snake = field.name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
    if (snake !== field.name) plan.set(snake, input);
  }
  return plan;
}

function readerFor(field: protobuf.Field): FieldReader {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return (value, path, depth) => readMessage(resolved, value, path, depth);
  if (resolved instanceof protobuf.Enum) {
    const names = resolved.values;
    return (value, path) => {
      if (typeof value === 'number' && Number.isInteger(value) && value >= -2_147_483_648 && value <= 2_147_483_647) return value;
      if (typeof value === 'string' && Object.hasOwn(names, value)) return names[value];
      return fail(path, `expected an integer or a ${resolved.name} name`);
    };
  }
  if (field.type === 'bytes') return HEX_BYTES_FIELDS.has(field.name) ? readHex : readBase64;
  if (field.long) return readInt64(field.type === 'uint64' || field.type === 'fixed64');
  switch (field.type) {
    case 'double':
    case 'float':
      return readDouble;
    case 'string':
      return (value, path) => (typeof value === 'string' ? value : fail(path, 'expected a string'));
    case 'bool':
      return (value, path) => (typeof value === 'boolean' ? value : fail(path, 'expected true or false'));
    case 'uint32':
    case 'fixed32':
      return readInt32(0, 4_294_967_295);
    default:
      return readInt32(-2_147_483_648, 2_147_483_647);
  }
}

function readHex(value: unknown, path: string): Buffer {
  if (typeof value !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(value)) return fail(path, 'expected a hex string');
  return Buffer.from(value, 'hex');
}

function readBase64(value: unknown, path: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return fail(path, 'expected a base64 string');
  return Buffer.from(value, 'base64');
}

/** 64-bit integers come as decimal strings (or numbers); kept as strings, which protobufjs encodes exactly. */
function readInt64(unsigned: boolean): FieldReader {
  const pattern = unsigned ? /^\d{1,20}$/ : /^-?\d{1,19}$/;
  return (value, path) => {
    if (typeof value === 'number' && Number.isSafeInteger(value) && (!unsigned || value >= 0)) return String(value);
    if (typeof value === 'string' && pattern.test(value)) {
      const big = BigInt(value);
      const fits = unsigned ? big < 2n ** 64n : big >= -(2n ** 63n) && big < 2n ** 63n;
      if (fits) return value;
    }
    return fail(path, `expected ${unsigned ? 'an unsigned' : 'a'} 64-bit integer (decimal string)`);
  };
}

function readInt32(min: number, max: number): FieldReader {
  return (value, path) => {
    const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof number === 'number' && Number.isInteger(number) && number >= min && number <= max) return number;
    return fail(path, `expected an integer from ${min} to ${max}`);
  };
}

function readDouble(value: unknown, path: string): number {
  if (typeof value === 'number') return value;
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity') return Number.POSITIVE_INFINITY;
  if (value === '-Infinity') return Number.NEGATIVE_INFINITY;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return fail(path, 'expected a number');
}

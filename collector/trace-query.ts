// Reading a run's traces back, for the runner's trace assertions, the report
// and tests: traces.jsonl (OTLP JSON, one TracesData per line) flattened into
// one plain record per span, with service name, epoch-millisecond times and
// attributes as JS values. A last line cut short by a crash is skipped; a bad
// line anywhere else is corruption and is reported with its line number.
// A capped file was rotated (rotated-files.ts): readers take traces.N.jsonl ...
// traces.1.jsonl, then traces.jsonl, so spans still come in the order written.
import { createInterface } from 'node:readline';
import type { FileHandle } from 'node:fs/promises';
import { CollectorError } from './collector-error.ts';
import { openOldestFirst } from './rotated-files.ts';
import type { OtlpAnyValueJson, OtlpKeyValueJson, OtlpResourceSpansJson, OtlpTracesDataJson } from './otlp-json.ts';

export interface FlatSpanEvent {
  name: string;
  timeMs: number;
  attributes: Record<string, unknown>;
}

export interface FlatSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** Resource attribute service.name (`unknown_service` when absent). */
  service: string;
  /** Epoch milliseconds, with the sub-millisecond part as a fraction (microsecond precision). */
  startMs: number;
  endMs: number;
  durationMs: number;
  attributes: Record<string, unknown>;
  events: FlatSpanEvent[];
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message?: string };
}

const UNKNOWN_SERVICE = 'unknown_service';

/** Every span of a traces.jsonl file (and of its rotated files, oldest first), in the order written. */
export async function readSpans(file: string): Promise<FlatSpan[]> {
  const spans: FlatSpan[] = [];
  const handles = await openOldestFirst(file);
  try {
    for (const { path, handle } of handles) await readSpansFrom(path, handle, spans);
  } finally {
    await Promise.allSettled(handles.map(({ handle }) => handle.close()));
  }
  return spans;
}

async function readSpansFrom(file: string, handle: FileHandle, spans: FlatSpan[]): Promise<void> {
  const lines = createInterface({ input: handle.createReadStream({ encoding: 'utf8', autoClose: false }), crlfDelay: Infinity });
  let lineNumber = 0;
  let unparsed: { lineNumber: number; error: Error } | undefined;
  for await (const line of lines) {
    lineNumber++;
    if (unparsed) {
      throw new CollectorError('TRACES_CORRUPT', `${file}:${unparsed.lineNumber}: not an OTLP JSON line: ${unparsed.error.message}`);
    }
    if (line.trim() === '') continue;
    let data: OtlpTracesDataJson;
    try {
      data = JSON.parse(line) as OtlpTracesDataJson;
    } catch (error) {
      // Only an error if another line follows: the last one may be a crash's leftover.
      unparsed = { lineNumber, error: error as Error };
      continue;
    }
    for (const resourceSpans of data.resourceSpans ?? []) flattenResourceSpans(resourceSpans, spans);
  }
}


/** A line of a JSONL file that could not be read; streaming readers report it and go on. */
export interface MalformedLine {
  file: string;
  lineNumber: number;
  reason: string;
}

export interface StreamSpansOptions {
  /** Called for each line that is not an OTLP JSON TracesData; the line is skipped. Default: ignore. */
  onMalformed?: (line: MalformedLine) => void;
}

/**
 * The spans of a traces.jsonl file, one line's spans at a time, reading the
 * file as a stream so only one line is in memory. Unlike readSpans, a bad line
 * anywhere is reported through onMalformed and skipped (for people's queries,
 * where the rest of the file is still worth showing). A missing file rejects
 * with the fs error (code ENOENT).
 */
export async function* streamSpans(file: string, options: StreamSpansOptions = {}): AsyncGenerator<FlatSpan[]> {
  yield* streamOtlpJsonLines(file, 'TracesData', options.onMalformed, (data) => {
    const spans: FlatSpan[] = [];
    for (const resourceSpans of (data as OtlpTracesDataJson).resourceSpans ?? []) flattenResourceSpans(resourceSpans, spans);
    return spans;
  });
}

/**
 * The items of an OTLP JSON lines file (traces.jsonl, logs.jsonl) and of its
 * rotated files, oldest first, one line's items at a time, read as a stream so
 * only one line is in memory. A line that
 * is not JSON, not an object, or that `flatten` throws on is reported through
 * onMalformed (with its line number) and skipped. A missing file rejects with
 * the fs error (code ENOENT).
 */
export async function* streamOtlpJsonLines<T>(
  file: string,
  kind: string,
  onMalformed: ((line: MalformedLine) => void) | undefined,
  flatten: (data: object) => T[],
): AsyncGenerator<T[]> {
  const handles = await openOldestFirst(file);
  try {
    for (const { path, handle } of handles) yield* streamOneFile(path, handle, kind, onMalformed, flatten);
  } finally {
    await Promise.allSettled(handles.map(({ handle }) => handle.close()));
  }
}

async function* streamOneFile<T>(
  file: string,
  handle: FileHandle,
  kind: string,
  onMalformed: ((line: MalformedLine) => void) | undefined,
  flatten: (data: object) => T[],
): AsyncGenerator<T[]> {
  const report = onMalformed ?? (() => {});
  const input = handle.createReadStream({ encoding: 'utf8', autoClose: false });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      let data: unknown;
      try {
        data = JSON.parse(line);
      } catch (error) {
        report({ file, lineNumber, reason: `not JSON: ${(error as Error).message}` });
        continue;
      }
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        report({ file, lineNumber, reason: `not an OTLP JSON ${kind} object` });
        continue;
      }
      let items: T[];
      try {
        items = flatten(data);
      } catch (error) {
        report({ file, lineNumber, reason: `not an OTLP JSON ${kind}: ${(error as Error).message}` });
        continue;
      }
      if (items.length > 0) yield items;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}

/** Spans grouped by trace id, each group sorted by start time. */
export function groupByTrace(spans: readonly FlatSpan[]): Map<string, FlatSpan[]> {
  const traces = new Map<string, FlatSpan[]>();
  for (const span of spans) {
    const group = traces.get(span.traceId);
    if (group) group.push(span);
    else traces.set(span.traceId, [span]);
  }
  for (const group of traces.values()) group.sort((a, b) => a.startMs - b.startMs);
  return traces;
}

function flattenResourceSpans(resourceSpans: OtlpResourceSpansJson, out: FlatSpan[]): void {
  const resourceAttributes = attributesToRecord(resourceSpans.resource?.attributes);
  const serviceName = resourceAttributes['service.name'];
  const service = typeof serviceName === 'string' && serviceName !== '' ? serviceName : UNKNOWN_SERVICE;
  for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
    for (const span of scopeSpans.spans ?? []) {
      const start = toNanos(span.startTimeUnixNano);
      const end = toNanos(span.endTimeUnixNano);
      const flat: FlatSpan = {
        traceId: (span.traceId ?? '').toLowerCase(),
        spanId: (span.spanId ?? '').toLowerCase(),
        name: span.name ?? '',
        kind: span.kind ?? 0,
        service,
        startMs: nanosToMs(start),
        endMs: nanosToMs(end),
        durationMs: Number(end - start) / 1e6,
        attributes: attributesToRecord(span.attributes),
        events: (span.events ?? []).map((event) => ({
          name: event.name ?? '',
          timeMs: nanosToMs(toNanos(event.timeUnixNano)),
          attributes: attributesToRecord(event.attributes),
        })),
        status: span.status?.message ? { code: span.status.code ?? 0, message: span.status.message } : { code: span.status?.code ?? 0 },
      };
      if (span.parentSpanId) flat.parentSpanId = span.parentSpanId.toLowerCase();
      out.push(flat);
    }
  }
}

/** OTLP JSON writes 64-bit timestamps as decimal strings; some producers write numbers. */
export function toNanos(value: string | number | undefined): bigint {
  if (value === undefined) return 0n;
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  return /^\d+$/.test(value) ? BigInt(value) : 0n;
}

/** Epoch nanoseconds exceed a double's exact range; going through microseconds keeps every microsecond. */
export function nanosToMs(nanos: bigint): number {
  return Number(nanos / 1000n) / 1000;
}

export function attributesToRecord(attributes: readonly OtlpKeyValueJson[] | undefined): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) {
    if (key !== undefined) record[key] = anyValueToJs(value);
  }
  return record;
}

/** AnyValue to a JS value: int64 as number (as a decimal string beyond 2^53), bytes as Uint8Array. */
export function anyValueToJs(value: OtlpAnyValueJson | undefined): unknown {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    const int = Number(value.intValue);
    return Number.isSafeInteger(int) ? int : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValueToJs);
  if (value.kvlistValue !== undefined) return attributesToRecord(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return new Uint8Array(Buffer.from(value.bytesValue, 'base64'));
  return undefined;
}

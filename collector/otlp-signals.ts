// The three OTLP signals (traces, metrics, logs) described as data, so one
// pipeline serves them all: which protobuf messages a signal's export request
// and response are, where its items sit (spans, metric data points, log
// records), how to count them, cut a request down to the ones that fit, check
// ids and nesting (a hostile request is refused naming the bad field, never a
// crash), and encode the response with the partial success the OTLP spec asks
// for. Receivers (gRPC, HTTP) and the collector work through a SignalSpec and
// never name a signal's fields themselves.
import type protobuf from 'protobufjs';
import { CollectorError } from './collector-error.ts';
import {
  LOGS_EXPORT_METHOD_PATH,
  METRICS_EXPORT_METHOD_PATH,
  OTLP_ID_BYTES,
  OTLP_LOGS_TYPES,
  OTLP_METRICS_TYPES,
  OTLP_TRACE_TYPES,
  TRACE_EXPORT_METHOD_PATH,
} from './otlp-schema.ts';

export type TelemetrySignal = 'traces' | 'metrics' | 'logs';
export const TELEMETRY_SIGNALS: readonly TelemetrySignal[] = ['traces', 'metrics', 'logs'];

/** A decoded export request: protobufjs message or the same shape built from OTLP/JSON. */
export type DecodedExportRequest = Record<string, unknown>;

export interface ExportOutcome {
  /** Items of the request the collector did not keep. */
  rejectedItems: number;
  /** Why, when rejectedItems > 0 (or a warning the client should log). */
  errorMessage?: string;
}

export interface SignalSpec {
  readonly signal: TelemetrySignal;
  /** What an item is called in messages: "spans", "data points", "log records". */
  readonly itemName: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** gRPC method path of the signal's Export call. */
  readonly grpcMethodPath: string;
  /** OTLP/HTTP path. */
  readonly httpPath: string;
  /** File in the run directory. */
  readonly fileName: string;
  /** Top-level repeated field of the request (and of the stored *Data document). */
  readonly resourceField: string;
  /** The partial_success field counting rejected items. */
  readonly rejectedField: string;
  /** Scope-level repeated field and the item field inside each scope (metrics: metrics holding data points). */
  readonly scopeField: string;
  readonly scopeItemsField: string;
}

export const SIGNALS: Readonly<Record<TelemetrySignal, SignalSpec>> = {
  traces: {
    signal: 'traces',
    itemName: 'spans',
    requestType: OTLP_TRACE_TYPES.ExportTraceServiceRequest,
    responseType: OTLP_TRACE_TYPES.ExportTraceServiceResponse,
    grpcMethodPath: TRACE_EXPORT_METHOD_PATH,
    httpPath: '/v1/traces',
    fileName: 'traces.jsonl',
    resourceField: 'resourceSpans',
    rejectedField: 'rejectedSpans',
    scopeField: 'scopeSpans',
    scopeItemsField: 'spans',
  },
  metrics: {
    signal: 'metrics',
    itemName: 'data points',
    requestType: OTLP_METRICS_TYPES.ExportMetricsServiceRequest,
    responseType: OTLP_METRICS_TYPES.ExportMetricsServiceResponse,
    grpcMethodPath: METRICS_EXPORT_METHOD_PATH,
    httpPath: '/v1/metrics',
    fileName: 'metrics.jsonl',
    resourceField: 'resourceMetrics',
    rejectedField: 'rejectedDataPoints',
    scopeField: 'scopeMetrics',
    scopeItemsField: 'metrics',
  },
  logs: {
    signal: 'logs',
    itemName: 'log records',
    requestType: OTLP_LOGS_TYPES.ExportLogsServiceRequest,
    responseType: OTLP_LOGS_TYPES.ExportLogsServiceResponse,
    grpcMethodPath: LOGS_EXPORT_METHOD_PATH,
    httpPath: '/v1/logs',
    fileName: 'logs.jsonl',
    resourceField: 'resourceLogs',
    rejectedField: 'rejectedLogRecords',
    scopeField: 'scopeLogs',
    scopeItemsField: 'logRecords',
  },
};

/** Deepest message nesting a JSON request may have: protobufjs' recursion limit, so both encodings agree. */
export const MAX_MESSAGE_DEPTH = 100;

const METRIC_DATA_FIELDS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;

type Obj = Record<string, unknown>;

function list(value: unknown): Obj[] {
  return Array.isArray(value) ? (value as Obj[]) : [];
}

/** A metric's data points array and its holder, or undefined for a metric without data. */
function metricPoints(metric: Obj): { holder: Obj; points: Obj[] } | undefined {
  for (const field of METRIC_DATA_FIELDS) {
    const data = metric[field];
    if (data !== undefined && data !== null && Object.hasOwn(metric, field)) return { holder: data as Obj, points: list((data as Obj).dataPoints) };
  }
  return undefined;
}

/** Number of items (spans, data points, log records) in a request or stored *Data document. */
export function countItems(spec: SignalSpec, request: DecodedExportRequest): number {
  let count = 0;
  for (const resource of list(request[spec.resourceField])) {
    for (const scope of list(resource[spec.scopeField])) {
      const items = list(scope[spec.scopeItemsField]);
      if (spec.signal !== 'metrics') {
        count += items.length;
        continue;
      }
      for (const metric of items) count += metricPoints(metric)?.points.length ?? 0;
    }
  }
  return count;
}

/**
 * Keep the first `limit` items of a request (in request order) and remove the
 * rest, with metrics, scopes and resources left empty. Mutates the request;
 * returns how many items were removed.
 */
export function keepFirstItems(spec: SignalSpec, request: DecodedExportRequest, limit: number): number {
  let room = Math.max(0, limit);
  let removed = 0;
  const keep = <T>(items: T[], size: (item: T) => number, cut: (item: T, keep: number) => void): T[] => {
    const kept: T[] = [];
    for (const item of items) {
      const n = size(item);
      if (n > room) {
        removed += n - room;
        cut(item, room);
      }
      const left = Math.min(n, room);
      room -= left;
      if (left > 0) kept.push(item);
    }
    return kept;
  };
  const keptResources: Obj[] = [];
  for (const resource of list(request[spec.resourceField])) {
    const keptScopes: Obj[] = [];
    for (const scope of list(resource[spec.scopeField])) {
      const items = list(scope[spec.scopeItemsField]);
      const kept =
        spec.signal === 'metrics'
          ? keep(
              items,
              (metric) => metricPoints(metric)?.points.length ?? 0,
              (metric, n) => {
                const data = metricPoints(metric);
                if (data) data.holder.dataPoints = data.points.slice(0, n);
              },
            )
          : keep(
              items,
              () => 1,
              () => {},
            );
      scope[spec.scopeItemsField] = kept;
      if (kept.length > 0) keptScopes.push(scope);
    }
    resource[spec.scopeField] = keptScopes;
    if (keptScopes.length > 0) keptResources.push(resource);
  }
  request[spec.resourceField] = keptResources;
  return removed;
}

/**
 * Check the ids of a decoded request; returns the first problem with its
 * path, or undefined. Span (and span link) ids must be present; elsewhere (log
 * records, metric exemplars) ids are optional but must have their size when
 * set. Only the fields that hold ids are visited, and a path is built only for
 * a problem: this runs on every request, on the ingest hot path. Nesting needs
 * no check here: protobufjs refuses messages nested deeper than its recursion
 * limit (100), and the JSON reader refuses the same depth.
 */
export function findInvalidField(spec: SignalSpec, request: DecodedExportRequest): string | undefined {
  const resources = list(request[spec.resourceField]);
  for (let r = 0; r < resources.length; r++) {
    const scopes = list(resources[r]?.[spec.scopeField]);
    for (let s = 0; s < scopes.length; s++) {
      const items = list(scopes[s]?.[spec.scopeItemsField]);
      const at = (i: number) => `${spec.resourceField}[${r}].${spec.scopeField}[${s}].${spec.scopeItemsField}[${i}]`;
      for (let i = 0; i < items.length; i++) {
        const item = items[i] as Obj;
        const problem =
          spec.signal === 'traces' ? checkSpan(item, () => at(i)) : spec.signal === 'logs' ? checkOptionalIds(item, () => at(i)) : checkExemplars(item, () => at(i));
        if (problem !== undefined) return problem;
      }
    }
  }
  return undefined;
}

type PathOf = () => string;

function byteLength(value: unknown): number {
  return value instanceof Uint8Array ? value.length : 0;
}

function checkSize(path: PathOf, name: string, bytes: unknown, allowed: readonly number[]): string | undefined {
  const length = byteLength(bytes);
  if (allowed.includes(length)) return undefined;
  return `${path()}.${name}: must be ${allowed.filter((n) => n > 0).join(' or ')} bytes, got ${length}`;
}

const REQUIRED_TRACE_ID = [OTLP_ID_BYTES.traceId];
const REQUIRED_SPAN_ID = [OTLP_ID_BYTES.spanId];
const OPTIONAL_TRACE_ID = [0, OTLP_ID_BYTES.traceId];
const OPTIONAL_SPAN_ID = [0, OTLP_ID_BYTES.spanId];

function checkSpan(span: Obj, path: PathOf): string | undefined {
  const problem =
    checkSize(path, 'traceId', span.traceId, REQUIRED_TRACE_ID) ??
    checkSize(path, 'spanId', span.spanId, REQUIRED_SPAN_ID) ??
    checkSize(path, 'parentSpanId', span.parentSpanId, OPTIONAL_SPAN_ID);
  if (problem !== undefined) return problem;
  const links = list(span.links);
  for (let l = 0; l < links.length; l++) {
    const link = links[l] as Obj;
    const linkPath = () => `${path()}.links[${l}]`;
    const linkProblem = checkSize(linkPath, 'traceId', link.traceId, REQUIRED_TRACE_ID) ?? checkSize(linkPath, 'spanId', link.spanId, REQUIRED_SPAN_ID);
    if (linkProblem !== undefined) return linkProblem;
  }
  return undefined;
}

function checkOptionalIds(holder: Obj, path: PathOf): string | undefined {
  return checkSize(path, 'traceId', holder.traceId, OPTIONAL_TRACE_ID) ?? checkSize(path, 'spanId', holder.spanId, OPTIONAL_SPAN_ID);
}

function checkExemplars(metric: Obj, path: PathOf): string | undefined {
  for (const field of METRIC_DATA_FIELDS) {
    if (!Object.hasOwn(metric, field)) continue;
    const points = list((metric[field] as Obj | null)?.dataPoints);
    for (let p = 0; p < points.length; p++) {
      const exemplars = list(points[p]?.exemplars);
      for (let e = 0; e < exemplars.length; e++) {
        const problem = checkOptionalIds(exemplars[e] as Obj, () => `${path()}.${field}.dataPoints[${p}].exemplars[${e}]`);
        if (problem !== undefined) return problem;
      }
    }
  }
  return undefined;
}

/** Decode and validate a protobuf request body; throws CollectorError MALFORMED_OTLP naming the problem. */
export function decodeExportRequest(spec: SignalSpec, body: Uint8Array): DecodedExportRequest {
  const typeName = spec.requestType.name;
  let request: DecodedExportRequest;
  try {
    request = spec.requestType.decode(body) as unknown as DecodedExportRequest;
  } catch (error) {
    const reason = error instanceof RangeError && /call stack/.test(error.message) ? 'nested too deeply' : (error as Error).message;
    throw new CollectorError('MALFORMED_OTLP', `malformed ${typeName}: ${reason}`, { cause: error });
  }
  return validateExportRequest(spec, request);
}

/** Validate a decoded request (from protobuf or JSON); throws CollectorError MALFORMED_OTLP. */
export function validateExportRequest(spec: SignalSpec, request: DecodedExportRequest): DecodedExportRequest {
  const problem = findInvalidField(spec, request);
  if (problem !== undefined) throw new CollectorError('MALFORMED_OTLP', `invalid ${spec.requestType.name}: ${problem}`);
  return request;
}

/**
 * Encode an Export*ServiceResponse. Full success is the empty message;
 * otherwise partial_success names the rejected items, as the OTLP spec says.
 */
export function encodeExportResponse(spec: SignalSpec, outcome: ExportOutcome): Buffer {
  if (outcome.rejectedItems === 0 && !outcome.errorMessage) return Buffer.alloc(0);
  const message = spec.responseType.fromObject(exportResponseObject(spec, outcome));
  return Buffer.from(spec.responseType.encode(message).finish());
}

/** The response as its OTLP/JSON object (what OTLP/HTTP with a JSON body answers). */
export function exportResponseObject(spec: SignalSpec, outcome: ExportOutcome): Record<string, unknown> {
  if (outcome.rejectedItems === 0 && !outcome.errorMessage) return {};
  return { partialSuccess: { [spec.rejectedField]: String(outcome.rejectedItems), errorMessage: outcome.errorMessage ?? '' } };
}

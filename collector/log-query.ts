// Reading a run's logs back: runs/<id>/logs.jsonl holds one OTLP JSON LogsData
// per line (what the collector received from the services' pino-to-OTLP
// bridge). `faultline traces --trace <id>` prints the logs of one trace beside
// its waterfall, so this module flattens log records into plain objects and
// picks those of one trace id. The file is read as a stream, one line at a
// time; a bad line is reported with its line number and skipped.
import type { OtlpAnyValueJson, OtlpKeyValueJson } from './otlp-json.ts';
import { anyValueToJs, attributesToRecord, nanosToMs, streamOtlpJsonLines, toNanos } from './trace-query.ts';
import type { MalformedLine } from './trace-query.ts';

export const LOGS_FILE_NAME = 'logs.jsonl';

// Shapes of the OTLP/JSON log documents (readers also accept numbers for 64-bit fields).
export interface OtlpLogRecordJson {
  timeUnixNano?: string | number;
  observedTimeUnixNano?: string | number;
  severityNumber?: number;
  severityText?: string;
  body?: OtlpAnyValueJson;
  attributes?: OtlpKeyValueJson[];
  traceId?: string;
  spanId?: string;
  flags?: number;
}
export interface OtlpScopeLogsJson {
  scope?: { name?: string; version?: string; attributes?: OtlpKeyValueJson[] };
  logRecords?: OtlpLogRecordJson[];
}
export interface OtlpResourceLogsJson {
  resource?: { attributes?: OtlpKeyValueJson[] };
  scopeLogs?: OtlpScopeLogsJson[];
}
/** One line of logs.jsonl: an OTLP LogsData in JSON. */
export interface OtlpLogsDataJson {
  resourceLogs?: OtlpResourceLogsJson[];
}

export interface FlatLogRecord {
  /** Epoch milliseconds (the record's time, or the time it was observed when the producer set none). */
  timeMs: number;
  /** Resource attribute service.name (`unknown_service` when absent). */
  service: string;
  /** OTLP SeverityNumber (1-24; 0 unspecified). */
  severityNumber: number;
  /** The producer's severity text, or one derived from severityNumber. */
  severityText: string;
  /** The body as text (a structured body is written as JSON). */
  message: string;
  traceId?: string;
  spanId?: string;
  attributes: Record<string, unknown>;
}

export interface StreamLogsOptions {
  /** Called for each line that is not an OTLP JSON LogsData; the line is skipped. Default: ignore. */
  onMalformed?: (line: MalformedLine) => void;
}

/** The log records of a logs.jsonl file, one line's records at a time. A missing file rejects with ENOENT. */
export async function* streamLogs(file: string, options: StreamLogsOptions = {}): AsyncGenerator<FlatLogRecord[]> {
  yield* streamOtlpJsonLines(file, 'LogsData', options.onMalformed, (data) => flattenLogsData(data as OtlpLogsDataJson));
}

/**
 * The logs of one trace, time-ordered (stable for equal times). A run without
 * logs.jsonl (logs not collected) has none; other read errors reject.
 */
export async function readTraceLogs(file: string, traceId: string, options: StreamLogsOptions = {}): Promise<FlatLogRecord[]> {
  const wanted = traceId.toLowerCase();
  const found: FlatLogRecord[] = [];
  try {
    for await (const records of streamLogs(file, options)) {
      for (const record of records) if (record.traceId === wanted) found.push(record);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return found.sort((a, b) => a.timeMs - b.timeMs);
}

export function flattenLogsData(data: OtlpLogsDataJson): FlatLogRecord[] {
  const out: FlatLogRecord[] = [];
  for (const resourceLogs of data.resourceLogs ?? []) {
    const serviceName = attributesToRecord(resourceLogs.resource?.attributes)['service.name'];
    const service = typeof serviceName === 'string' && serviceName !== '' ? serviceName : 'unknown_service';
    for (const scopeLogs of resourceLogs.scopeLogs ?? []) {
      for (const record of scopeLogs.logRecords ?? []) out.push(flattenLogRecord(record, service));
    }
  }
  return out;
}

function flattenLogRecord(record: OtlpLogRecordJson, service: string): FlatLogRecord {
  const time = toNanos(record.timeUnixNano);
  const severityNumber = record.severityNumber ?? 0;
  const flat: FlatLogRecord = {
    timeMs: nanosToMs(time === 0n ? toNanos(record.observedTimeUnixNano) : time),
    service,
    severityNumber,
    severityText: record.severityText || severityName(severityNumber),
    message: bodyText(record.body),
    attributes: attributesToRecord(record.attributes),
  };
  // An all-zero id is the OTLP spelling of "no trace".
  if (record.traceId && !/^0+$/.test(record.traceId)) flat.traceId = record.traceId.toLowerCase();
  if (record.spanId && !/^0+$/.test(record.spanId)) flat.spanId = record.spanId.toLowerCase();
  return flat;
}

function bodyText(body: OtlpAnyValueJson | undefined): string {
  const value = anyValueToJs(body);
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  return JSON.stringify(value, (_key, item: unknown) => (item instanceof Uint8Array ? Buffer.from(item).toString('base64') : item));
}

/** SeverityNumber ranges of the OTLP logs data model: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL. */
export function severityName(severityNumber: number): string {
  const names = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
  if (!Number.isInteger(severityNumber) || severityNumber < 1 || severityNumber > 24) return 'UNSPECIFIED';
  return names[Math.floor((severityNumber - 1) / 4)] ?? 'UNSPECIFIED';
}

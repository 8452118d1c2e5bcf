// Traces and logs for the console. Local mode has no Jaeger or Loki, so this
// is where a person finds the slowest trace or an error's log lines: searches
// stream the session's own files (the collector's traces.jsonl and logs.jsonl,
// rotated files included), with the filters of `faultline traces`, and a live
// tail follows logs.jsonl as the collector appends to it.

import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { flattenLogsData, LOGS_FILE_NAME, readTraceLogs, streamLogs, type FlatLogRecord, type OtlpLogsDataJson } from '../../collector/log-query.ts';
import { TRACES_FILE_NAME } from '../../collector/trace-store.ts';
import { listTraces, parseTracesQuery, readRunTimeline, readTrace, TracesQueryError, type TraceListing } from '../../collector/traces-cli.ts';
import { renderTraceWaterfall } from '../report-html/traces.ts';

export class SearchInputError extends Error {}

const MAX_LIMIT = 500;

function limitOf(params: URLSearchParams, fallback: number): number {
  const raw = params.get('limit');
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) throw new SearchInputError(`limit: '${raw}' is not a whole number from 1 to ${MAX_LIMIT}`);
  return Number(raw);
}

/** `since`/`until`: epoch ms, or an ISO time; the console sends epoch ms. */
function timeOf(params: URLSearchParams, name: string): number | undefined {
  const raw = params.get(name);
  if (raw === null || raw === '') return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isFinite(value)) throw new SearchInputError(`${name}: '${raw}' is not a time (epoch milliseconds or ISO 8601)`);
  return value;
}

/**
 * Traces of the session, slowest first: `service`, `status` (ok|error), `minDuration` (250ms),
 * `attr` (key=value, repeatable), `since`/`until`, `limit`. Bad input is a SearchInputError naming the parameter.
 */
export async function searchTraces(runDir: string, params: URLSearchParams): Promise<TraceListing> {
  let query;
  try {
    query = parseTracesQuery({
      ...(params.get('service') ? { service: params.get('service') as string } : {}),
      ...(params.get('status') ? { status: params.get('status') as string } : {}),
      ...(params.get('minDuration') ? { minDuration: params.get('minDuration') as string } : {}),
      attr: params.getAll('attr').filter((a) => a !== ''),
    });
  } catch (error) {
    if (error instanceof TracesQueryError) throw new SearchInputError(error.message.replace(/--min-duration/g, 'minDuration').replace(/--(\w+)/g, '$1'));
    throw error;
  }
  if (query.kind !== 'list') throw new SearchInputError('use /api/traces/<trace id> for one trace');
  const since = timeOf(params, 'since');
  const until = timeOf(params, 'until');
  const filter = { ...query.filter, ...(since !== undefined ? { sinceMs: since } : {}), ...(until !== undefined ? { untilMs: until } : {}) };
  try {
    return await listTraces(join(runDir, TRACES_FILE_NAME), filter, limitOf(params, 20), { timeline: readRunTimeline(runDir) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { matched: 0, traces: [] };
    throw error;
  }
}

export interface TraceView {
  traceId: string;
  spanCount: number;
  /** The report's waterfall (issue 10): span rows that expand to their events and logs. */
  html: string;
}

/** One trace as the report draws it, with its logs; undefined when the session has no such trace. */
export async function traceView(runDir: string, traceId: string): Promise<TraceView | undefined> {
  const id = traceId.trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(id)) throw new SearchInputError(`trace id: '${traceId}' is not 32 hex digits`);
  let spans;
  try {
    spans = await readTrace(join(runDir, TRACES_FILE_NAME), id);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (spans.length === 0) return undefined;
  const logs = await readTraceLogs(join(runDir, LOGS_FILE_NAME), id);
  const start = Math.min(...spans.map((s) => s.startMs));
  return { traceId: id, spanCount: spans.length, html: renderTraceWaterfall({ reason: 'searched', traceId: id }, spans, logs, start) };
}

export interface LogFilter {
  service?: string;
  /** The lowest severity shown: trace, debug, info, warn, error, fatal (OTLP severity ranges). */
  minSeverity?: number;
  /** Case-insensitive text in the message or an attribute value. */
  text?: string;
  traceId?: string;
  sinceMs?: number;
  untilMs?: number;
}

/** OTLP SeverityNumber at which each level starts. */
const LEVELS: Record<string, number> = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

export function parseLogFilter(params: URLSearchParams): LogFilter {
  const filter: LogFilter = {};
  const service = params.get('service');
  if (service) filter.service = service;
  const level = params.get('level');
  if (level) {
    const min = LEVELS[level.toLowerCase()];
    if (min === undefined) throw new SearchInputError(`level: '${level}' is not one of ${Object.keys(LEVELS).join(', ')}`);
    filter.minSeverity = min;
  }
  const text = params.get('text');
  if (text) filter.text = text.toLowerCase();
  const trace = params.get('trace');
  if (trace) {
    if (!/^[0-9a-fA-F]{32}$/.test(trace)) throw new SearchInputError(`trace: '${trace}' is not a trace id (32 hex digits)`);
    filter.traceId = trace.toLowerCase();
  }
  const since = timeOf(params, 'since');
  if (since !== undefined) filter.sinceMs = since;
  const until = timeOf(params, 'until');
  if (until !== undefined) filter.untilMs = until;
  return filter;
}

export function logMatches(record: FlatLogRecord, filter: LogFilter): boolean {
  if (filter.service !== undefined && record.service !== filter.service) return false;
  if (filter.minSeverity !== undefined && record.severityNumber < filter.minSeverity) return false;
  if (filter.traceId !== undefined && record.traceId !== filter.traceId) return false;
  if (filter.sinceMs !== undefined && record.timeMs < filter.sinceMs) return false;
  if (filter.untilMs !== undefined && record.timeMs >= filter.untilMs) return false;
  if (filter.text !== undefined) {
    const haystack = `${record.message} ${Object.values(record.attributes).map(String).join(' ')}`.toLowerCase();
    if (!haystack.includes(filter.text)) return false;
  }
  return true;
}

/** The newest `limit` matching log records, newest first, and how many matched in all. */
export async function searchLogs(runDir: string, params: URLSearchParams): Promise<{ matched: number; records: FlatLogRecord[] }> {
  const filter = parseLogFilter(params);
  const limit = limitOf(params, 100);
  const kept: FlatLogRecord[] = [];
  let matched = 0;
  try {
    for await (const records of streamLogs(join(runDir, LOGS_FILE_NAME))) {
      for (const record of records) {
        if (!logMatches(record, filter)) continue;
        matched++;
        kept.push(record);
        // Keep memory bounded on an eight-hour session: only the newest `limit` survive.
        if (kept.length > limit * 2) kept.splice(0, kept.length - limit);
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return { matched, records: kept.sort((a, b) => b.timeMs - a.timeMs).slice(0, limit) };
}

export interface LogTail {
  /** New records appended since the last read (at most `max`, the rest counted as skipped). */
  read(max?: number): Promise<{ records: FlatLogRecord[]; skipped: number }>;
  close(): Promise<void>;
}

/**
 * Follows logs.jsonl from its current end. A rotation (the file shorter than what was read)
 * starts again at its beginning; a partial last line waits for its newline.
 */
export async function tailLogs(runDir: string): Promise<LogTail> {
  const file = join(runDir, LOGS_FILE_NAME);
  let offset = await stat(file).then(
    (s) => s.size,
    () => 0,
  );
  let partial = '';
  return {
    async read(max = 200) {
      const size = await stat(file).then(
        (s) => s.size,
        () => 0,
      );
      if (size < offset) {
        offset = 0;
        partial = '';
      }
      if (size === offset) return { records: [], skipped: 0 };
      // Bounded read per tick: a burst of logs is shown in part and counted, never buffered whole.
      const length = Math.min(size - offset, 4 * 1024 * 1024);
      const handle = await open(file, 'r');
      let text: string;
      try {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        offset += bytesRead;
        text = partial + buffer.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      const records: FlatLogRecord[] = [];
      let skipped = 0;
      for (const line of lines) {
        if (line.trim() === '') continue;
        let flat: FlatLogRecord[];
        try {
          flat = flattenLogsData(JSON.parse(line) as OtlpLogsDataJson);
        } catch {
          continue; // A line that is not LogsData: the search skips it too.
        }
        for (const record of flat) {
          if (records.length < max) records.push(record);
          else skipped++;
        }
      }
      return { records, skipped };
    },
    async close() {},
  };
}

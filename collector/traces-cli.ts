// `faultline traces <run>`: a run's traces for people. With --trace, one trace
// as a waterfall followed by its logs; otherwise the traces that pass the
// filters (--service, --attr, --status, --min-duration), slowest first, the N
// slowest with --slowest. traces.jsonl is read as a stream and only one line's
// spans are held at a time: a listing keeps a small summary per trace, a
// waterfall keeps the spans of its one trace. Bad lines are reported with
// their line number on stderr and skipped. Bad options, an unknown run or an
// unknown trace are TracesQueryErrors (one line, exit 2 in the CLI).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DurationError, parseDuration } from '../demo-services/kit/durations.ts';
import { LOGS_FILE_NAME, readTraceLogs } from './log-query.ts';
import type { FlatLogRecord } from './log-query.ts';
import { streamSpans } from './trace-query.ts';
import type { FlatSpan, MalformedLine } from './trace-query.ts';
import { TRACES_FILE_NAME } from './trace-store.ts';
import { buildTraceTree, faultsTouching, formatMs, renderWaterfall } from './waterfall.ts';
import type { FaultWindowOnSpans, TraceTree } from './waterfall.ts';

export const TRACES_CLI_ERROR = {
  runNotFound: 'FL_RUN_NOT_FOUND',
  traceNotFound: 'FL_TRACE_NOT_FOUND',
  badOption: 'FL_BAD_OPTION',
} as const;
export type TracesQueryErrorCode = (typeof TRACES_CLI_ERROR)[keyof typeof TRACES_CLI_ERROR];

/**
 * A query that cannot be answered as asked; the codes are the CLI's (the
 * collector may not import the runner, so the CLI wraps this in its own error).
 */
export class TracesQueryError extends Error {
  readonly code: TracesQueryErrorCode;
  constructor(code: TracesQueryErrorCode, message: string) {
    super(message);
    this.name = 'TracesQueryError';
    this.code = code;
  }
}

/** Listing size when no --slowest is given. */
export const DEFAULT_LIST_LIMIT = 20;

/** The command's options as commander hands them over: raw strings, validated here. */
export interface TracesFlags {
  trace?: string;
  slowest?: string;
  service?: string;
  attr?: string[];
  status?: string;
  minDuration?: string;
  phase?: string;
  width?: string;
  json?: boolean;
}

export interface TraceFilter {
  service?: string;
  attributes: { key: string; value: string }[];
  status?: 'ok' | 'error';
  minDurationMs?: number;
  /** Only traces that started during this phase of the run. */
  phase?: string;
  /** Only traces that started at or after this epoch ms (the console's time filter). */
  sinceMs?: number;
  /** Only traces that started before this epoch ms. */
  untilMs?: number;
}

export type TracesQuery = { kind: 'trace'; traceId: string } | { kind: 'list'; limit: number; filter: TraceFilter };

export interface TracesIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Terminal width when --width is not given (process.stdout.columns in a terminal). */
  columns?: number;
}

const badOption = (message: string): TracesQueryError => new TracesQueryError(TRACES_CLI_ERROR.badOption, message);

/** Validate the flags into one query; every problem is FL_BAD_OPTION naming the flag. */
export function parseTracesQuery(flags: TracesFlags): TracesQuery {
  const filtering = flags.service !== undefined || (flags.attr ?? []).length > 0 || flags.status !== undefined || flags.minDuration !== undefined || flags.phase !== undefined;
  if (flags.trace !== undefined) {
    if (filtering || flags.slowest !== undefined) throw badOption('--trace shows one trace: it takes no --slowest, --service, --attr, --status, --min-duration or --phase');
    const traceId = flags.trace.trim().toLowerCase();
    if (!/^[0-9a-f]{32}$/.test(traceId)) throw badOption(`--trace: '${flags.trace}' is not a trace id (32 hex digits)`);
    return { kind: 'trace', traceId };
  }
  let limit = DEFAULT_LIST_LIMIT;
  if (flags.slowest !== undefined) {
    if (!/^\d+$/.test(flags.slowest.trim()) || Number(flags.slowest) < 1) throw badOption(`--slowest: '${flags.slowest}' is not a whole number >= 1`);
    limit = Number(flags.slowest);
  }
  const filter: TraceFilter = { attributes: [] };
  if (flags.service !== undefined) {
    if (flags.service.trim() === '') throw badOption('--service: empty service name');
    filter.service = flags.service.trim();
  }
  for (const attr of flags.attr ?? []) {
    const equals = attr.indexOf('=');
    if (equals <= 0) throw badOption(`--attr: '${attr}' is not key=value`);
    filter.attributes.push({ key: attr.slice(0, equals).trim(), value: attr.slice(equals + 1) });
  }
  if (flags.status !== undefined) {
    const status = flags.status.trim().toLowerCase();
    if (status !== 'ok' && status !== 'error') throw badOption(`--status: '${flags.status}' is not ok or error`);
    filter.status = status;
  }
  if (flags.minDuration !== undefined) {
    try {
      filter.minDurationMs = parseDuration(flags.minDuration, '--min-duration');
    } catch (error) {
      if (error instanceof DurationError) throw badOption(error.message);
      throw error;
    }
  }
  if (flags.phase !== undefined) {
    if (flags.phase.trim() === '') throw badOption('--phase: empty phase name');
    filter.phase = flags.phase.trim();
  }
  return { kind: 'list', limit, filter };
}

/** What the run's record says about its clock: when the run started and its phases (runs of `up` have none). */
export interface RunTimeline {
  /** Epoch ms the run's offsets count from; undefined: from the run's first span. */
  startedAtMs?: number;
  phases: Array<{ name: string; startMs: number; endMs: number }>;
  /** Faults applied in the run (faults.jsonl), by the scenario's timeline or by hand. */
  faults: FaultWindowOnSpans[];
}

/** The run's start, phases (summary.json) and fault windows (faults.jsonl); what is missing is left out. */
export function readRunTimeline(runDir: string): RunTimeline {
  const timeline: RunTimeline = { phases: [], faults: [] };
  try {
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { startedAt?: string; phases?: Array<{ name: string; startMs: number; endMs: number }> };
    const started = summary.startedAt === undefined ? Number.NaN : Date.parse(summary.startedAt);
    if (Number.isFinite(started)) timeline.startedAtMs = started;
    if (Array.isArray(summary.phases)) timeline.phases = summary.phases.filter((p) => typeof p.name === 'string' && Number.isFinite(p.startMs) && Number.isFinite(p.endMs));
  } catch {
    // No summary (a session of `up`, or a run still going): offsets count from the first span.
  }
  let text: string;
  try {
    text = readFileSync(join(runDir, 'faults.jsonl'), 'utf8');
  } catch {
    return timeline;
  }
  const open = new Map<string, FaultWindowOnSpans>();
  for (const line of text.split('\n')) {
    let record: { time?: string; action?: string; fault?: string; type?: string; target?: string; ok?: boolean };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      continue;
    }
    const at = Date.parse(record.time ?? '');
    if (!Number.isFinite(at) || typeof record.fault !== 'string' || record.ok === false) continue;
    const key = `${record.fault} ${record.target ?? ''}`;
    if (record.action === 'apply') open.set(key, { name: record.fault, type: record.type ?? '?', target: record.target ?? '', fromMs: at, toMs: Number.POSITIVE_INFINITY });
    if (record.action === 'remove') {
      const window = open.get(key);
      if (window) {
        timeline.faults.push({ ...window, toMs: at });
        open.delete(key);
      }
    }
  }
  timeline.faults.push(...open.values());
  return timeline;
}

/** The phase a moment of the run (ms from its start) falls in. */
function phaseAt(timeline: RunTimeline, offsetMs: number): string | undefined {
  return timeline.phases.find((phase) => offsetMs >= phase.startMs && offsetMs < phase.endMs)?.name;
}

/** `runs/<id>` from a run id or a path; FL_RUN_NOT_FOUND when it has no traces.jsonl. */
export function resolveRunDir(run: string, runsDir: string): string {
  const runDir = existsSync(run) ? run : join(runsDir, run);
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) {
    throw new TracesQueryError(TRACES_CLI_ERROR.runNotFound, `no run '${run}' (looked in ${runDir})`);
  }
  if (!existsSync(join(runDir, TRACES_FILE_NAME))) {
    throw new TracesQueryError(TRACES_CLI_ERROR.runNotFound, `run '${run}' has no ${TRACES_FILE_NAME} (looked in ${runDir})`);
  }
  return runDir;
}

export interface ReadOptions {
  onMalformed?: (line: MalformedLine) => void;
}

/** The spans of one trace, in file order; empty when the trace id is not in the file. */
export async function readTrace(tracesFile: string, traceId: string, options: ReadOptions = {}): Promise<FlatSpan[]> {
  const spans: FlatSpan[] = [];
  for await (const batch of streamSpans(tracesFile, options)) {
    for (const span of batch) if (span.traceId === traceId) spans.push(span);
  }
  return spans;
}

/** What a listing keeps per trace while the file streams by: a few numbers, never the spans. */
interface TraceAccumulator {
  traceId: string;
  spanCount: number;
  startMs: number;
  endMs: number;
  root?: { name: string; service: string; startMs: number; durationMs: number };
  earliest: { name: string; service: string; startMs: number };
  error: boolean;
  serviceSeen: boolean;
  attributesSeen: boolean[];
  faults: Set<string>;
}

/** One line of a listing. */
export interface TraceSummary {
  traceId: string;
  /** The root span's name (the earliest span when the root is missing). */
  root: string;
  service: string;
  /** The root span's duration; the spans' extent when the trace has no root. */
  durationMs: number;
  status: 'ok' | 'error';
  spanCount: number;
  /** Epoch ms of the earliest span. */
  startMs: number;
  /** When it started, in ms from the run's start (from its first span for a session of `up`). */
  offsetMs: number;
  /** The run's phase it started in, if any. */
  phase?: string;
  /** Faults of the run that touched one of its spans. */
  faults: string[];
}

export interface TraceListing {
  /** Traces that passed the filters. */
  matched: number;
  /** The slowest of them, at most `limit`, slowest first. */
  traces: TraceSummary[];
}

/** Summaries of the traces that pass `filter`, slowest first, at most `limit`. */
export async function listTraces(tracesFile: string, filter: TraceFilter, limit: number, options: ReadOptions & { timeline?: RunTimeline } = {}): Promise<TraceListing> {
  const timeline = options.timeline ?? { phases: [], faults: [] };
  if (filter.phase !== undefined && !timeline.phases.some((phase) => phase.name === filter.phase)) {
    const known = timeline.phases.map((phase) => phase.name);
    throw badOption(`--phase: no phase '${filter.phase}' in this run (${known.length > 0 ? `phases: ${known.join(', ')}` : 'it has no phases: a session of up, or a run without summary.json'})`);
  }
  const traces = new Map<string, TraceAccumulator>();
  for await (const batch of streamSpans(tracesFile, options)) {
    for (const span of batch) {
      let trace = traces.get(span.traceId);
      if (!trace) {
        trace = {
          traceId: span.traceId,
          spanCount: 0,
          startMs: span.startMs,
          endMs: span.endMs,
          earliest: { name: span.name, service: span.service, startMs: span.startMs },
          error: false,
          serviceSeen: false,
          attributesSeen: filter.attributes.map(() => false),
          faults: new Set(),
        };
        traces.set(span.traceId, trace);
      }
      accumulate(trace, span, filter);
      // Parents are not at hand while streaming: an edge fault marks its caller's client-side spans here.
      for (const fault of faultsTouching(span, timeline.faults)) trace.faults.add(fault.name);
    }
  }
  let zero = timeline.startedAtMs;
  if (zero === undefined) for (const trace of traces.values()) zero = Math.min(zero ?? trace.startMs, trace.startMs);
  const summaries: TraceSummary[] = [];
  for (const trace of traces.values()) {
    const summary = toSummary(trace, timeline, zero ?? trace.startMs);
    if (passes(trace, summary, filter)) summaries.push(summary);
  }
  summaries.sort((a, b) => b.durationMs - a.durationMs || a.startMs - b.startMs);
  return { matched: summaries.length, traces: summaries.slice(0, limit) };
}

function accumulate(trace: TraceAccumulator, span: FlatSpan, filter: TraceFilter): void {
  trace.spanCount++;
  trace.startMs = Math.min(trace.startMs, span.startMs);
  trace.endMs = Math.max(trace.endMs, span.endMs);
  if (span.startMs < trace.earliest.startMs) trace.earliest = { name: span.name, service: span.service, startMs: span.startMs };
  if (span.parentSpanId === undefined && (!trace.root || span.startMs < trace.root.startMs)) {
    trace.root = { name: span.name, service: span.service, startMs: span.startMs, durationMs: span.durationMs };
  }
  if (span.status.code === 2) trace.error = true;
  if (filter.service !== undefined && span.service === filter.service) trace.serviceSeen = true;
  filter.attributes.forEach(({ key, value }, index) => {
    if (Object.hasOwn(span.attributes, key) && attributeText(span.attributes[key]) === value) trace.attributesSeen[index] = true;
  });
}

/** How an attribute value compares with the text of --attr key=value. */
function attributeText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

function toSummary(trace: TraceAccumulator, timeline: RunTimeline, zeroMs: number): TraceSummary {
  const head = trace.root ?? trace.earliest;
  const offsetMs = trace.startMs - zeroMs;
  const phase = phaseAt(timeline, offsetMs);
  return {
    traceId: trace.traceId,
    root: head.name,
    service: head.service,
    durationMs: trace.root ? trace.root.durationMs : trace.endMs - trace.startMs,
    status: trace.error ? 'error' : 'ok',
    spanCount: trace.spanCount,
    startMs: trace.startMs,
    offsetMs,
    ...(phase !== undefined ? { phase } : {}),
    faults: [...trace.faults].sort(),
  };
}

function passes(trace: TraceAccumulator, summary: TraceSummary, filter: TraceFilter): boolean {
  if (filter.service !== undefined && !trace.serviceSeen) return false;
  if (!trace.attributesSeen.every(Boolean)) return false;
  if (filter.status !== undefined && summary.status !== filter.status) return false;
  if (filter.minDurationMs !== undefined && summary.durationMs < filter.minDurationMs) return false;
  if (filter.phase !== undefined && summary.phase !== filter.phase) return false;
  if (filter.sinceMs !== undefined && summary.startMs < filter.sinceMs) return false;
  if (filter.untilMs !== undefined && summary.startMs >= filter.untilMs) return false;
  return true;
}

/** The command: query the run, print text or JSON on stdout, skipped lines on stderr. */
export async function runTracesCommand(run: string, flags: TracesFlags & { runsDir: string }, io: TracesIo): Promise<void> {
  const query = parseTracesQuery(flags);
  const width = parseWidth(flags.width, io.columns);
  const runDir = resolveRunDir(run, flags.runsDir);
  const tracesFile = join(runDir, TRACES_FILE_NAME);
  const malformed: MalformedLine[] = [];
  const onMalformed = (line: MalformedLine): void => {
    malformed.push(line);
    io.stderr.write(`faultline: ${line.file}:${line.lineNumber}: skipped: ${line.reason}\n`);
  };

  const timeline = readRunTimeline(runDir);
  if (query.kind === 'trace') {
    const spans = await readTrace(tracesFile, query.traceId, { onMalformed });
    if (spans.length === 0) throw new TracesQueryError(TRACES_CLI_ERROR.traceNotFound, `no trace ${query.traceId} in ${tracesFile}`);
    const tree = buildTraceTree(spans);
    const logs = await readTraceLogs(join(runDir, LOGS_FILE_NAME), query.traceId, { onMalformed });
    io.stdout.write(flags.json ? `${JSON.stringify(traceJson(tree, logs, malformed.length), null, 2)}\n` : `${renderWaterfall(tree, logs, { width, faults: timeline.faults })}\n`);
    return;
  }

  const listing = await listTraces(tracesFile, query.filter, query.limit, { onMalformed, timeline });
  if (flags.json) {
    io.stdout.write(`${JSON.stringify({ runDir, matched: listing.matched, traces: listing.traces, malformedLines: malformed.length }, null, 2)}\n`);
    return;
  }
  io.stdout.write(`${renderListing(listing)}\n`);
}

function parseWidth(width: string | undefined, columns: number | undefined): number {
  if (width === undefined) return columns !== undefined && columns > 0 ? columns : 120;
  if (!/^\d+$/.test(width.trim()) || Number(width) < 60) throw badOption(`--width: '${width}' is not a whole number >= 60`);
  return Number(width);
}

/** The listing as a table, slowest first. */
export function renderListing(listing: TraceListing): string {
  if (listing.traces.length === 0) return 'no trace matches';
  const offset = (ms: number): string => `${ms < 0 ? '-' : '+'}${formatMs(Math.abs(ms))}`;
  const rows = listing.traces.map((trace) => [
    trace.traceId,
    offset(trace.offsetMs),
    trace.phase ?? '-',
    formatMs(trace.durationMs),
    String(trace.spanCount),
    trace.status,
    trace.service,
    `${trace.root}${trace.faults.length > 0 ? `  [fault: ${trace.faults.join(', ')}]` : ''}`,
  ]);
  const header = ['trace', 'start', 'phase', 'duration', 'spans', 'status', 'service', 'root span'];
  const rightAligned = new Set([1, 3, 4]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  const shown = listing.matched > listing.traces.length ? `${listing.traces.length} slowest of ${listing.matched} matching traces` : `${listing.matched} matching traces`;
  return [line(header), ...rows.map(line), `(${shown})`].join('\n');
}

function traceJson(tree: TraceTree, logs: readonly FlatLogRecord[], malformedLines: number): unknown {
  return {
    traceId: tree.traceId,
    startedAt: new Date(tree.startMs).toISOString(),
    durationMs: tree.durationMs,
    spans: tree.nodes.map((node) => ({
      ...node.span,
      depth: node.depth,
      offsetMs: node.offsetMs,
      parentMissing: node.parentMissing,
      skewMs: node.skewMs,
    })),
    logs,
    malformedLines,
  };
}

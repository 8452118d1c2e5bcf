// What report.html draws, shaped from a run's record: per-second series on
// one axis of seconds since the run started, the marks every chart carries
// (fault windows, breaker transitions, alerts, phases) and the tables' rows.
// Pure: the caller reads the files (write.ts), so this is tested on made-up runs.

import type { FlatSpan } from '../../collector/trace-query.ts';
import { METRIC, SHOP_SPAN_EVENT, SPAN_EVENT } from '../../demo-services/kit/conventions.ts';
import type { FaultRecord } from '../fault-timeline.ts';
import type { RunSummary } from '../report.ts';
import type { StepSummary, TimeSeriesPoint } from '../../load/recorder.ts';
import type { MetricSeriesName } from '../metric-series.ts';

/** The most points a series keeps; longer runs are cut into buckets that keep each bucket's peak. */
export const MAX_POINTS = 900;

export type Unit = 'req/s' | 'ms' | '%' | 'state' | 'events/s' | 'requests' | 'per call';

export interface SeriesSpec {
  label: string;
  color: string;
  values: Array<number | null>;
  dash?: boolean;
  /** Drawn as steps (states, per-phase figures) rather than lines. */
  step?: boolean;
  /** On the right-hand axis, in this unit, when the chart mixes two. */
  rightUnit?: Unit;
}

export interface ChartSpec {
  id: string;
  title: string;
  unit: Unit;
  /** Seconds since the run started. */
  x: number[];
  series: SeriesSpec[];
  /** A line under the chart saying what it is measured from. */
  note?: string;
}

export interface Marks {
  /** Offsets in seconds since the run started. */
  faults: Array<{ from: number; to: number; label: string }>;
  breaker: Array<{ at: number; to: string; label: string }>;
  alerts: Array<{ at: number; label: string; fired: boolean }>;
  phases: Array<{ from: number; to: number; name: string }>;
  /** A process going away (exited, paused) or coming back (restarted, resumed), as the supervisor and runner recorded it. */
  processes: Array<{ at: number; label: string; down: boolean }>;
}

/** One entry of the run's timeline table: what happened when. */
export interface TimelineEntry {
  atMs: number;
  kind: 'phase' | 'fault' | 'breaker' | 'alert' | 'process';
  text: string;
}

// Colours that read on white and on near-black alike.
export const COLOR = {
  ok: '#16a34a',
  failed: '#dc2626',
  dropped: '#9333ea',
  p50: '#2563eb',
  p95: '#d97706',
  p99: '#dc2626',
  ratio: '#dc2626',
  breaker: '#0891b2',
  retry: '#d97706',
  rejected: '#0891b2',
  timeout: '#dc2626',
  injected: '#9333ea',
  fallback: '#16a34a',
  cpu: '#dc2626',
  lag: '#2563eb',
  loop: '#d97706',
  runQueue: '#9333ea',
  runB: '#64748b',
  inFlight: '#0d9488',
  attempts: '#4f46e5',
  bulkhead: '#0891b2',
  rateLimited: '#d97706',
  shed: '#9333ea',
} as const;

/** Series colours of the errors-by-kind chart, most frequent kind first; the last is "other". */
export const KIND_COLORS = ['#dc2626', '#2563eb', '#d97706', '#9333ea', '#0891b2', '#16a34a', '#a16207', '#4f46e5', '#c2410c', '#0369a1', '#64748b'] as const;

/** A second of the run's per-second series, as the load recorder keeps it. */
export type TimePoint = TimeSeriesPoint;

interface CircuitMark {
  offsetMs: number;
  from: string;
  to: string;
}

const BREAKER_LEVEL: Record<string, number> = { closed: 0, half_open: 1, open: 2 };

/** The run's start in epoch ms. */
export function runStartMs(summary: RunSummary): number {
  return Date.parse(summary.startedAt);
}

export function timePoints(summary: RunSummary): TimePoint[] {
  return (summary.timeSeries as TimePoint[]).filter((p) => typeof p?.t === 'number').sort((a, b) => a.t - b.t);
}

/** The breaker's transitions, by offset; those before the run (warm-up) only set the state it started in. */
export function circuitMarks(summary: RunSummary): CircuitMark[] {
  return (summary.circuit as CircuitMark[]).filter((c) => typeof c?.offsetMs === 'number').sort((a, b) => a.offsetMs - b.offsetMs);
}

/**
 * Fault windows as applied: from faults.jsonl (apply and remove records,
 * paired by fault name), falling back to the planned windows of summary.json
 * when the file is missing. A fault never removed runs to the run's end.
 */
export function appliedFaultWindows(summary: RunSummary, records: readonly FaultRecord[] | undefined): Array<{ name: string; target: string; fromMs: number; toMs: number }> {
  if (!records || records.length === 0) {
    return (summary.faults as Array<{ name: string; target: string; startMs: number; endMs: number }>).map((f) => ({ name: f.name, target: f.target, fromMs: f.startMs, toMs: f.endMs }));
  }
  const open = new Map<string, FaultRecord>();
  const windows: Array<{ name: string; target: string; fromMs: number; toMs: number }> = [];
  for (const record of [...records].sort((a, b) => a.offsetMs - b.offsetMs)) {
    if (record.action === 'apply' && record.ok) open.set(record.fault, record);
    if (record.action === 'remove') {
      const applied = open.get(record.fault);
      if (applied) windows.push({ name: record.fault, target: record.target, fromMs: applied.offsetMs, toMs: record.offsetMs });
      open.delete(record.fault);
    }
  }
  for (const applied of open.values()) windows.push({ name: applied.fault, target: applied.target, fromMs: applied.offsetMs, toMs: summary.durationMs });
  return windows.sort((a, b) => a.fromMs - b.fromMs);
}

type ProcessEventRecord = NonNullable<RunSummary['processEvents']>[number];

/** Process events of the run, by offset (records made before they were kept have none). */
export function processEvents(summary: RunSummary): ProcessEventRecord[] {
  return (summary.processEvents ?? []).filter((e) => typeof e?.offsetMs === 'number').sort((a, b) => a.offsetMs - b.offsetMs);
}

const mib = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${Math.round(bytes / 1024 / 1024)} MiB`);

function describeProcessEvent(e: ProcessEventRecord): string {
  switch (e.event) {
    case 'exited':
      return `${e.instance} exited (${e.signal ? `signal ${e.signal}` : `code ${String(e.code)}`})`;
    case 'restarted':
      return `${e.instance} restarted${e.reason === 'oom' ? ' after its OOM kill' : e.reason === 'crash' ? ' after its crash' : ''}${e.pid === undefined ? '' : ` as pid ${e.pid}`}${e.tookMs === undefined ? '' : `, ready after ${formatSeconds(e.tookMs)}`}`;
    case 'oom-killed':
      return `${e.instance} OOM-killed (SIGKILL) at ${mib(e.rssBytes)} resident, over its ${mib(e.limitBytes)} memory limit`;
    case 'gave-up':
      return `${e.instance} left down: too many restarts after OOM kills`;
    case 'killed':
      return `${e.instance} sent SIGKILL`;
    case 'paused':
      return `${e.instance} paused (SIGSTOP)`;
    case 'resumed':
      return `${e.instance} resumed (SIGCONT)`;
  }
}

export function buildMarks(summary: RunSummary, records: readonly FaultRecord[] | undefined): Marks {
  const seconds = (ms: number) => round(ms / 1_000, 3);
  return {
    // The exit itself is the marker of a kill; the signal that caused it is in the timeline.
    processes: processEvents(summary)
      .filter((e) => e.event !== 'killed')
      .map((e) => ({ at: seconds(e.offsetMs), label: describeProcessEvent(e), down: e.event === 'exited' || e.event === 'paused' || e.event === 'oom-killed' })),
    faults: appliedFaultWindows(summary, records).map((w) => ({ from: seconds(w.fromMs), to: seconds(w.toMs), label: `${w.name} (${w.target})` })),
    breaker: circuitMarks(summary)
      .filter((c) => c.offsetMs >= 0)
      .map((c) => ({ at: seconds(c.offsetMs), to: c.to, label: `breaker ${c.from} → ${c.to}` })),
    alerts: (summary.monitoring.alerts ?? []).flatMap((a) => {
      const name = `${a.alertname}${a.labels.slo_tier ? ` ${a.labels.slo_tier}` : ''}`;
      const fired = { at: seconds(a.firedAtMs), label: `${name} fired`, fired: true };
      return a.resolvedAtMs === null ? [fired] : [fired, { at: seconds(a.resolvedAtMs), label: `${name} resolved`, fired: false }];
    }),
    phases: summary.phases.map((p) => ({ from: seconds(p.startMs), to: seconds(p.endMs), name: p.name })),
  };
}

export function timelineEntries(summary: RunSummary, records: readonly FaultRecord[] | undefined): TimelineEntry[] {
  const entries: TimelineEntry[] = summary.phases.map((p) => ({ atMs: p.startMs, kind: 'phase', text: `phase ${p.name} begins (${formatSeconds(p.endMs - p.startMs)})` }));
  if (records && records.length > 0) {
    for (const r of records) entries.push({ atMs: r.offsetMs, kind: 'fault', text: `${r.action === 'apply' ? 'applied' : 'removed'} ${r.fault} (${r.type} on ${r.target})${r.ok ? '' : `: failed, ${r.error ?? 'no reason given'}`}` });
  } else {
    for (const w of appliedFaultWindows(summary, undefined)) {
      entries.push({ atMs: w.fromMs, kind: 'fault', text: `${w.name} planned to start (${w.target}; faults.jsonl missing)` });
      entries.push({ atMs: w.toMs, kind: 'fault', text: `${w.name} planned to end` });
    }
  }
  for (const c of circuitMarks(summary)) if (c.offsetMs >= 0) entries.push({ atMs: c.offsetMs, kind: 'breaker', text: `breaker ${c.from} → ${c.to}` });
  for (const e of processEvents(summary)) entries.push({ atMs: e.offsetMs, kind: 'process', text: describeProcessEvent(e) });
  for (const a of summary.monitoring.alerts ?? []) {
    const name = `${a.alertname}${a.labels.slo_tier ? ` ${a.labels.slo_tier}` : ''}`;
    entries.push({ atMs: a.firedAtMs, kind: 'alert', text: `${name} fired (notified at ${formatOffset(a.notifiedAtMs)})` });
    if (a.resolvedAtMs !== null) entries.push({ atMs: a.resolvedAtMs, kind: 'alert', text: `${name} resolved` });
  }
  return entries.sort((a, b) => a.atMs - b.atMs);
}

/**
 * Bucket a series of per-second rows so that at most `max` remain. Each
 * bucket keeps the peak of every column (a one-second spike stays visible),
 * so a downsampled count is the busiest second of its bucket, not a sum.
 */
export function downsamplePeaks(x: readonly number[], columns: ReadonlyArray<ReadonlyArray<number | null>>, max = MAX_POINTS): { x: number[]; columns: Array<Array<number | null>>; bucketSeconds: number } {
  if (x.length <= max) return { x: [...x], columns: columns.map((c) => [...c]), bucketSeconds: 1 };
  const size = Math.ceil(x.length / max);
  const outX: number[] = [];
  const out = columns.map(() => [] as Array<number | null>);
  for (let start = 0; start < x.length; start += size) {
    outX.push(x[start] as number);
    columns.forEach((column, c) => {
      let peak: number | null = null;
      for (let i = start; i < Math.min(x.length, start + size); i++) {
        const v = column[i];
        if (v !== null && v !== undefined && (peak === null || v > peak)) peak = v;
      }
      out[c]!.push(peak);
    });
  }
  return { x: outX, columns: out, bucketSeconds: size };
}

/** Span events counted per second of the run (retries, rejections, timeouts, injected faults, fallbacks). */
export function eventCounts(spans: readonly FlatSpan[], startMs: number, seconds: number): Record<string, number[]> {
  const names = [SPAN_EVENT.retry, SPAN_EVENT.circuitRejected, SPAN_EVENT.timeout, SPAN_EVENT.faultInjected, SHOP_SPAN_EVENT.fallback];
  const counts: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, new Array<number>(seconds).fill(0)]));
  for (const span of spans) {
    for (const event of span.events) {
      const row = counts[event.name];
      const second = Math.floor((event.timeMs - startMs) / 1_000);
      if (row && second >= 0 && second < seconds) row[second]! += 1;
    }
  }
  return counts;
}

/** Breaker state per second: the worst it was in during that second (0 closed, 1 half-open, 2 open). */
export function breakerLevels(marks: readonly CircuitMark[], x: readonly number[]): number[] {
  let state = 0;
  let next = 0;
  const before = marks.filter((m) => m.offsetMs < (x[0] ?? 0) * 1_000);
  if (before.length) state = BREAKER_LEVEL[before.at(-1)!.to] ?? 0;
  next = before.length;
  return x.map((second) => {
    let worst = state;
    while (next < marks.length && marks[next]!.offsetMs < (second + 1) * 1_000) {
      state = BREAKER_LEVEL[marks[next]!.to] ?? 0;
      worst = Math.max(worst, state);
      next++;
    }
    return worst;
  });
}

export interface ChartOptions {
  spans: readonly FlatSpan[];
  /** Whether the run had a breaker to watch. */
  breaker: boolean;
}

/**
 * Failed requests per second by kind: the `top` most frequent kinds over the
 * run, each a column, and the rest summed as "other". Empty when nothing failed.
 */
export function errorKindColumns(points: readonly TimePoint[], top = 10): Array<{ kind: string; total: number; values: number[] }> {
  const totals = new Map<string, number>();
  for (const p of points) for (const [kind, n] of Object.entries(p.errors ?? {})) totals.set(kind, (totals.get(kind) ?? 0) + n);
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const shown = ranked.slice(0, top).map(([kind]) => kind);
  const columns = shown.map((kind) => ({ kind, total: totals.get(kind) as number, values: points.map((p) => p.errors?.[kind] ?? 0) }));
  if (ranked.length > top) {
    const kept = new Set(shown);
    const rest = (p: TimePoint) => Object.entries(p.errors ?? {}).reduce((n, [kind, v]) => n + (kept.has(kind) ? 0 : v), 0);
    columns.push({ kind: 'other', total: ranked.slice(top).reduce((n, [, v]) => n + v, 0), values: points.map(rest) });
  }
  return columns;
}

/** A column of the run's Prometheus series laid on the charts' seconds; all null when the record has none. */
export function metricColumn(summary: RunSummary, name: MetricSeriesName, x: readonly number[]): Array<number | null> {
  return onChartSeconds(summary, summary.metricSeries?.series[name], x);
}

/** Values on the Prometheus series' axis (epoch seconds) laid on the charts' seconds from the run start. */
function onChartSeconds(summary: RunSummary, values: ReadonlyArray<number | null> | undefined, x: readonly number[]): Array<number | null> {
  const series = summary.metricSeries;
  if (!series || !values) return x.map(() => null);
  const startSecond = runStartMs(summary) / 1_000;
  const at = new Map(series.t.map((t, i) => [Math.round(t - startSecond), values[i] ?? null]));
  return x.map((s) => at.get(s) ?? null);
}

/** The run's charts, in the order the page shows them; `absent` says which charts were left out for want of data, and why. */
export function buildCharts(summary: RunSummary, options: ChartOptions): { charts: ChartSpec[]; bucketSeconds: number; absent: string[] } {
  const startMs = runStartMs(summary);
  const points = timePoints(summary);
  const x = points.map((p) => Math.round((p.t * 1_000 - startMs) / 1_000));
  const ratio = points.map((p) => (p.started > 0 ? round((100 * p.failed) / p.started, 2) : null));
  const latency = (key: 'p50' | 'p95' | 'p99' | 'sentP50' | 'sentP95' | 'sentP99') => points.map((p) => (p.started > 0 && typeof p[key] === 'number' ? round(p[key], 1) : null));
  const hasSent = points.some((p) => typeof p.sentP50 === 'number');
  const absent: string[] = [];
  const seconds = Math.max(0, ...x) + 1;
  const events = eventCounts(options.spans, startMs, seconds);
  const eventColumn = (name: string) => x.map((s) => (s >= 0 ? (events[name]?.[s] ?? 0) : 0));
  const pressure = summary.pressure ?? [];
  const phaseOf = (s: number) => {
    const i = summary.phases.findIndex((p) => s * 1_000 >= p.startMs && s * 1_000 < p.endMs);
    return i < 0 ? undefined : pressure.find((pp) => pp.phase === summary.phases[i]!.name);
  };
  const perPhase = (pick: (p: NonNullable<ReturnType<typeof phaseOf>>) => number | undefined) =>
    x.map((s) => {
      const p = phaseOf(s);
      const v = p ? pick(p) : undefined;
      return v === undefined ? null : round(v, 1);
    });

  const raw: Array<{ id: string; title: string; unit: Unit; note?: string; series: Array<Omit<SeriesSpec, 'values'> & { values: Array<number | null> }> }> = [
    {
      id: 'requests',
      title: 'Requests by outcome',
      unit: 'req/s',
      note: 'Per second of intended start: a request is charged to the second the schedule wanted it in.',
      series: [
        { label: 'ok', color: COLOR.ok, values: points.map((p) => p.ok) },
        { label: 'failed', color: COLOR.failed, values: points.map((p) => p.failed) },
        { label: 'dropped', color: COLOR.dropped, values: points.map((p) => p.dropped) },
      ],
    },
    {
      id: 'latency',
      title: hasSent ? 'Latency from the intended start and from the send time' : 'Latency from the intended start',
      unit: 'ms',
      note: hasSent
        ? 'Solid: from when the schedule wanted each request to start, queueing included (the honest number). Dashed: from when it went on the wire, what most tools report. The gap between them is coordinated omission made visible. Both per second of intended start.'
        : 'From when the schedule wanted each request to start, queueing included (the honest number). This record has no per-second latency from the send time; it is in the figures table below.',
      series: [
        { label: 'p50', color: COLOR.p50, values: latency('p50') },
        { label: 'p95', color: COLOR.p95, values: latency('p95') },
        { label: 'p99', color: COLOR.p99, values: latency('p99') },
        ...(hasSent
          ? [
              { label: 'sent p50', color: COLOR.p50, dash: true, values: latency('sentP50') },
              { label: 'sent p95', color: COLOR.p95, dash: true, values: latency('sentP95') },
              { label: 'sent p99', color: COLOR.p99, dash: true, values: latency('sentP99') },
            ]
          : []),
      ],
    },
    {
      id: 'errors',
      title: 'Errors',
      unit: '%',
      note: 'Failed requests as a share of those started in each second.',
      series: [{ label: 'error ratio', color: COLOR.ratio, values: ratio }],
    },
  ];
  const kinds = errorKindColumns(points);
  if (kinds.length > 0) {
    raw.push({
      id: 'error-kinds',
      title: 'Errors by status and type',
      unit: 'req/s',
      note: `Failed requests per second of intended start, by HTTP status and problem type (or the transport error when there was no answer), as the load generator saw them: ${kinds.at(-1)?.kind === 'other' ? 'the 10 most frequent kinds over the run, the rest as "other"' : `every kind there was (${kinds.length})`}. The count over the run is in each label.`,
      series: kinds.map((k, i) => ({ label: `${k.kind} (${k.total})`, color: KIND_COLORS[Math.min(i, KIND_COLORS.length - 1)] as string, values: k.values })),
    });
  } else if (points.some((p) => p.failed > 0)) absent.push('Errors by status and type: this record does not keep failures by kind per second.');
  else absent.push('Errors by status and type: no request failed.');
  if (options.breaker) {
    raw.push({
      id: 'breaker',
      title: 'Breaker state',
      unit: 'state',
      note: 'The worst state the watched breaker was in during each second (0 closed, 1 half-open, 2 open), from the transitions in the traces.',
      series: [{ label: 'breaker', color: COLOR.breaker, step: true, values: breakerLevels(circuitMarks(summary), x) }],
    });
  }
  const breakers = summary.metricSeries?.breakers ?? [];
  if (breakers.length > 0) {
    raw.push({
      id: 'breakers',
      title: 'Breaker state per dependency',
      unit: 'state',
      note: `Every breaker in the shop, by caller and dependency: the worst state over the caller's instances each second (0 closed, 1 half-open, 2 open), from the services' ${METRIC.resilienceCircuitState} in the run's Prometheus.`,
      series: breakers.map((breaker, i) => ({
        label: `${breaker.service}->${breaker.dependency}`,
        color: KIND_COLORS[i % KIND_COLORS.length] as string,
        step: true,
        values: onChartSeconds(summary, breaker.values, x),
      })),
    });
  } else if (summary.metricSeries) absent.push('Breaker state per dependency: no breaker in this run reported a state to Prometheus.');
  raw.push({
    id: 'resilience',
    title: 'Resilience events',
    unit: 'events/s',
    note: 'Span events per second, from the traces: retries, calls the breaker refused, timeouts, injected faults and fallbacks.',
    series: [
      { label: 'retries', color: COLOR.retry, values: eventColumn(SPAN_EVENT.retry) },
      { label: 'breaker refused', color: COLOR.rejected, values: eventColumn(SPAN_EVENT.circuitRejected) },
      { label: 'timeouts', color: COLOR.timeout, values: eventColumn(SPAN_EVENT.timeout) },
      { label: 'faults injected', color: COLOR.injected, values: eventColumn(SPAN_EVENT.faultInjected) },
      { label: 'fallbacks', color: COLOR.fallback, values: eventColumn(SHOP_SPAN_EVENT.fallback) },
    ],
  });
  if (summary.metricSeries) {
    const retries = metricColumn(summary, 'retries', x);
    const attempts = metricColumn(summary, 'attemptsPerCall', x);
    raw.push({
      id: 'retries',
      title: 'Retries and attempts per call',
      unit: 'events/s',
      note: "Inside the shop, from the services' metrics the run's Prometheus scraped each second: retries per second (all callers and dependencies) and attempts per logical call (right axis; 1 means no retries, a retry storm pushes it to the policy's maximum).",
      series: [
        { label: 'retries', color: COLOR.retry, values: retries },
        { label: 'attempts per call', color: COLOR.attempts, rightUnit: 'per call', values: attempts },
      ],
    });
    const protection = [
      { label: 'bulkhead rejected', color: COLOR.bulkhead, values: metricColumn(summary, 'bulkheadRejected', x) },
      { label: 'rate-limited', color: COLOR.rateLimited, values: metricColumn(summary, 'rateLimited', x) },
      { label: 'shed (gateway)', color: COLOR.shed, values: metricColumn(summary, 'shed', x) },
    ];
    if (protection.some((s) => s.values.some((v) => v !== null && v > 0))) {
      raw.push({
        id: 'protection',
        title: 'Bulkhead rejected, rate-limited and shed',
        unit: 'req/s',
        note: "Calls a bulkhead refused (full), requests a rate limiter refused (429) and requests the gateway shed (503, too many in flight), per second, from the services' metrics in the run's Prometheus.",
        series: protection,
      });
    } else absent.push('Bulkhead rejected, rate-limited and shed: none in this run (Prometheus counted none).');
  } else absent.push(`Retries, attempts per call, bulkhead, rate limiting and shedding: no Prometheus series in this record (${summary.monitoring.available ? 'not kept by the run that made it' : (summary.monitoring.reason ?? 'Prometheus did not run')}).`);
  if (points.some((p) => typeof p.inFlight === 'number')) {
    raw.push({
      id: 'in-flight',
      title: 'Requests in flight',
      unit: 'requests',
      note: 'Requests the load generator had on the wire (sent, not yet answered), the mean over each wall-clock second.',
      series: [{ label: 'in flight', color: COLOR.inFlight, values: points.map((p) => (typeof p.inFlight === 'number' ? p.inFlight : null)) }],
    });
  }
  if (pressure.length > 0) {
    raw.push({
      id: 'pressure',
      title: 'Machine pressure, per phase',
      unit: '%',
      note: 'The figures the run judges INCONCLUSIVE by, one value per phase: CPU pressure (worst second), load generator lag and the worst lab event-loop delay (right axis, ms).',
      series: [
        { label: 'cpu pressure max', color: COLOR.cpu, step: true, values: perPhase((p) => (p.cpuPressure ? p.cpuPressure.max * 100 : undefined)) },
        { label: 'generator lag p99', color: COLOR.lag, step: true, rightUnit: 'ms', values: perPhase((p) => p.generatorLagMs.p99) },
        { label: 'event-loop delay max', color: COLOR.loop, step: true, rightUnit: 'ms', values: perPhase((p) => p.eventLoopDelayMs?.max) },
      ],
    });
  }
  const down = downsamplePeaks(
    x,
    raw.flatMap((c) => c.series.map((s) => s.values)),
  );
  let k = 0;
  const charts = raw.map((c) => ({
    id: c.id,
    title: c.title,
    unit: c.unit,
    x: down.x,
    ...(c.note ? { note: down.bucketSeconds > 1 ? `${c.note} Downsampled: each point is the peak of ${down.bucketSeconds} seconds.` : c.note } : {}),
    series: c.series.map((s) => ({ ...s, values: down.columns[k++]! })),
  }));
  return { charts, bucketSeconds: down.bucketSeconds, absent };
}

/** Latency per journey and step as the load generator measured it (summary.load.steps), when the record has it. */
export function loadSteps(summary: RunSummary): StepSummary[] {
  const steps = (summary.load as { steps?: unknown } | undefined)?.steps;
  return Array.isArray(steps) ? (steps as StepSummary[]).filter((s) => typeof s?.count === 'number') : [];
}

export interface SteadyRow {
  phase: string;
  seconds: number;
  rate: number;
  errorRatio: number | null;
  /** Medians over the phase's seconds of each second's percentile (intended start), ms. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** Rate, error ratio and typical latency of a phase, from the per-second series. */
export function steadyState(summary: RunSummary, phase: string): SteadyRow | undefined {
  const p = summary.phases.find((ph) => ph.name === phase);
  if (!p) return undefined;
  const startMs = runStartMs(summary);
  const inPhase = timePoints(summary).filter((pt) => {
    const offset = pt.t * 1_000 - startMs;
    return offset >= p.startMs - 500 && offset < p.endMs - 500;
  });
  const started = inPhase.reduce((a, pt) => a + pt.started, 0);
  const failed = inPhase.reduce((a, pt) => a + pt.failed, 0);
  const busy = inPhase.filter((pt) => pt.started > 0);
  const median = (key: 'p50' | 'p95' | 'p99') => (busy.length ? medianOf(busy.map((pt) => pt[key])) : null);
  const seconds = (p.endMs - p.startMs) / 1_000;
  return { phase, seconds, rate: seconds > 0 ? started / seconds : 0, errorRatio: started > 0 ? failed / started : null, p50: median('p50'), p95: median('p95'), p99: median('p99') };
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function formatSeconds(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1_000).toFixed(0)}s` : `${(ms / 1_000).toFixed(1)}s`;
}

/** An offset from the run's start, as +m:ss.s */
export function formatOffset(ms: number): string {
  const sign = ms < 0 ? '-' : '+';
  const abs = Math.abs(ms) / 1_000;
  const minutes = Math.floor(abs / 60);
  const seconds = abs - minutes * 60;
  return minutes > 0 ? `${sign}${minutes}:${seconds.toFixed(1).padStart(4, '0')}` : `${sign}${seconds.toFixed(2)}s`;
}

export interface StepLatency {
  step: string;
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

/** The requests the load generator made: server spans that start a trace, from the run's start on (the warm-up's are not the run's). */
function requestSpans(spans: readonly FlatSpan[], fromMs: number): FlatSpan[] {
  return spans.filter((s) => s.parentSpanId === undefined && s.kind === 2 && s.startMs >= fromMs);
}

function requestStep(span: FlatSpan): string {
  const route = span.attributes['http.route'] ?? span.attributes['url.path'];
  return `${span.service} ${String(span.attributes['http.request.method'] ?? '')} ${typeof route === 'string' ? route : '(no route)'}`.replace(/\s+/g, ' ');
}

/** Per request step (entry service, method and route), count, errors and duration percentiles of its server spans, busiest first. */
export function stepLatencies(spans: readonly FlatSpan[], fromMs: number): StepLatency[] {
  const byStep = new Map<string, FlatSpan[]>();
  for (const span of requestSpans(spans, fromMs)) {
    const step = requestStep(span);
    const list = byStep.get(step);
    if (list) list.push(span);
    else byStep.set(step, [span]);
  }
  return [...byStep]
    .map(([step, list]) => {
      const durations = list.map((s) => s.durationMs).sort((a, b) => a - b);
      const at = (q: number) => durations[Math.min(durations.length - 1, Math.max(0, Math.ceil((q / 100) * durations.length) - 1))] as number;
      return { step, count: list.length, errors: list.filter((s) => s.status.code === 2).length, p50: at(50), p90: at(90), p95: at(95), p99: at(99), max: durations.at(-1) as number };
    })
    .sort((a, b) => b.count - a.count);
}

/** Failed requests by HTTP status and error type, most frequent first; past `top`, the rest are one "other" row. */
export function errorKinds(spans: readonly FlatSpan[], fromMs: number, top = 10): Array<{ kind: string; count: number }> {
  const counts = new Map<string, number>();
  for (const span of requestSpans(spans, fromMs)) {
    if (span.status.code !== 2) continue;
    const status = span.attributes['http.response.status_code'];
    const type = span.attributes['error.type'];
    const kind = [status === undefined ? 'no response' : `HTTP ${String(status)}`, type !== undefined && String(type) !== String(status) ? String(type) : ''].filter(Boolean).join(', ');
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const sorted = [...counts].map(([kind, count]) => ({ kind, count })).sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind));
  if (sorted.length <= top) return sorted;
  return [...sorted.slice(0, top), { kind: 'other', count: sorted.slice(top).reduce((n, k) => n + k.count, 0) }];
}

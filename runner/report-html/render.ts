// report.html as a string, from a run's record (and, for a comparison, two
// runs' records): pure, so it is tested without files or a browser. The page
// is one self-contained file: the style, uPlot and the page's script inline,
// the charts' data as embedded JSON; nothing is fetched.

import type { FlatLogRecord } from '../../collector/log-query.ts';
import type { FlatSpan } from '../../collector/trace-query.ts';
import type { ExpectationResult } from '../expectations.ts';
import type { FaultRecord } from '../fault-timeline.ts';
import type { RunSummary } from '../report.ts';
import { drawReportCharts, type PageData } from './client.ts';
import { STYLE, capped, embedJson, escapeHtml, table, td } from './html.ts';
import { COLOR, appliedFaultWindows, buildCharts, buildMarks, errorKinds, formatOffset, loadSteps, round, runStartMs, stepLatencies, steadyState, timelineEntries, type ChartSpec, type SteadyRow } from './model.ts';
import { pickSampleTraces, renderTraceWaterfall, tracesById } from './traces.ts';

/** Rows of the timeline table and books violations shown before "and N more". */
export const MAX_TIMELINE_ROWS = 60;
export const MAX_VIOLATIONS = 10;

/** uPlot's inlined script and style (from node_modules, read by the caller). */
export interface ChartLibrary {
  script: string;
  style: string;
}

/** Where the run was made and the report built; each field only when known. */
export interface RunMeta {
  commit?: string;
  node?: string;
  machine?: string;
  prometheus?: string;
  alertmanager?: string;
  builtAt?: string;
}

export interface RunRecord {
  summary: RunSummary;
  spans: readonly FlatSpan[];
  /** faults.jsonl; undefined when the file is missing (planned windows are drawn instead, and said so). */
  faultRecords?: readonly FaultRecord[];
  /** Log records of the sampled traces (any others are ignored). */
  logs?: readonly FlatLogRecord[];
}

const STATUS_LABEL: Record<ExpectationResult['status'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', inconclusive: 'INCONCLUSIVE' };
const VERDICT_LABEL = { pass: 'PASS', fail: 'FAIL', inconclusive: 'INCONCLUSIVE' } as const;

export function renderRunReport(record: RunRecord, library: ChartLibrary, meta: RunMeta = {}): string {
  const { summary } = record;
  const breaker = summary.circuit.length > 0 || summary.expectations.some((e) => e.type === 'circuit');
  const { charts, absent } = buildCharts(summary, { spans: record.spans, breaker });
  const marks = buildMarks(summary, record.faultRecords);
  const body = [
    header(summary),
    section('Verdict', verdictTable(summary)),
    section('Timeline', timelineSection(summary, record.faultRecords)),
    section('Over time', chartsSection(charts, record.faultRecords === undefined, absent)),
    section('Figures', figuresSection(summary) + loadStepsSection(summary) + stepsSection(record)),
    section('SLOs', sloSection(summary)),
    section('Steady state: before and after', steadySection(summary)),
    section('Sample traces', tracesSection(record)),
    section('Books', booksSection(summary)),
    section('Run', metaSection(summary, meta)),
  ].join('\n');
  return page(`${VERDICT_LABEL[summary.verdict]} ${summary.scenario} (${summary.id})`, body, { charts, marks: [marks] }, library);
}

export function renderComparison(a: RunRecord, b: RunRecord, library: ChartLibrary, meta: RunMeta = {}): string {
  const { charts } = compareCharts(a, b);
  const title = `${a.summary.scenario} ${a.summary.id} vs ${b.summary.id}`;
  const body = [
    `<h1>Two runs side by side</h1><p class="muted">A: <b>${escapeHtml(runLabel(a.summary))}</b> &nbsp; B: <b>${escapeHtml(runLabel(b.summary))}</b>. Charts share one axis: time since each run started. A is drawn solid with its fault windows shaded; B dashed, its fault windows outlined.</p>`,
    section('Verdicts', compareVerdicts(a.summary, b.summary)),
    section('Over time', chartsSection(charts, false)),
    section('Figures', compareFigures(a.summary, b.summary)),
    section('Run', `<div class="side"><div><h4>A</h4>${metaSection(a.summary, meta)}</div><div><h4>B</h4>${metaSection(b.summary, meta)}</div></div>`),
  ].join('\n');
  return page(title, body, { charts, marks: [buildMarks(a.summary, a.faultRecords), buildMarks(b.summary, b.faultRecords)] }, library);
}

function page(title: string, body: string, data: PageData, library: ChartLibrary): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${library.style}</style>
<style>${STYLE}</style>
</head>
<body>
${body}
<script type="application/json" id="report-data">${embedJson(data)}</script>
<script>${library.script}</script>
<script>(${drawReportCharts.toString()})();</script>
</body>
</html>
`;
}

function section(title: string, content: string): string {
  const id = title.toLowerCase().replace(/[^a-z]+/g, '-');
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>\n${content}\n</section>`;
}

function runLabel(summary: RunSummary): string {
  const off = summary.options.switchedOff?.length ? summary.options.switchedOff.join(', ') : summary.options.disabled.length ? summary.options.disabled.join(', ') : '';
  return `${summary.scenario} ${summary.id}${off ? ` (switched off: ${off})` : ''}: ${VERDICT_LABEL[summary.verdict]}`;
}

function header(summary: RunSummary): string {
  const held = summary.expectations.filter((e) => e.status === 'pass').length;
  const off = summary.options.switchedOff?.length ? ` Patterns switched off: ${summary.options.switchedOff.join(', ')}.` : '';
  return `<h1><span class="verdict v-${summary.verdict}">${VERDICT_LABEL[summary.verdict]}</span> ${escapeHtml(summary.scenario)}</h1>
<p>${escapeHtml(summary.description)}${escapeHtml(off)}</p>
<p class="muted">run ${escapeHtml(summary.id)}, started ${escapeHtml(summary.startedAt)}, ${(summary.durationMs / 1_000).toFixed(1)}s; ${held}/${summary.expectations.length} expectations held</p>`;
}

function verdictTable(summary: RunSummary): string {
  const rows = summary.expectations.flatMap((e) => {
    const row = [`<td class="s-${e.status}">${STATUS_LABEL[e.status]}</td>`, td(e.name), td(e.expected), td(e.status === 'skip' ? `not measured: ${e.skipped ?? ''}` : e.measured)];
    const out = [row];
    if (e.inconclusive) out.push(['<td></td>', `<td colspan="3">not judged: ${escapeHtml(e.inconclusive)}</td>`]);
    return out.map((cells, i) => (i === 0 ? cells : cells));
  });
  // The "not judged" line belongs to the row above it; it is marked so.
  const html = table(['status', 'expectation', 'expected', 'measured'], rows, 'verdict-table');
  return html.replace(/<tr><td><\/td><td colspan="3">not judged/g, '<tr class="why"><td></td><td colspan="3">not judged');
}

function timelineSection(summary: RunSummary, records: readonly FaultRecord[] | undefined): string {
  const entries = timelineEntries(summary, records);
  const rows = entries.slice(0, MAX_TIMELINE_ROWS).map((e) => [td(formatOffset(e.atMs), 'num'), td(e.kind), td(e.text)]);
  const more = entries.length > MAX_TIMELINE_ROWS ? `<p class="more">and ${entries.length - MAX_TIMELINE_ROWS} more events</p>` : '';
  const note = records === undefined ? '<p class="muted">faults.jsonl is missing: fault windows are the planned ones.</p>' : '';
  const counts = (['phase', 'fault', 'breaker', 'process', 'alert'] as const).map((kind) => `${entries.filter((e) => e.kind === kind).length} ${kind}`).join(', ');
  return `${note}<details class="timeline"><summary>${entries.length} events (${counts}), drawn on every chart below; open for the list</summary>${table(['at', 'what', ''], rows, 'timeline')}${more}</details>`;
}

function chartsSection(charts: readonly ChartSpec[], planned: boolean, absent: readonly string[] = []): string {
  const legend = `<p class="legend-marks">On every chart: <i style="background:var(--fault)"></i>fault window${planned ? ' (planned)' : ' (as applied, from faults.jsonl)'} <i style="background:#be123c;width:3px"></i>breaker opened <i style="background:#ca8a04;width:3px"></i>half-open <i style="background:#0d9488;width:3px"></i>closed <i style="border-left:2px dashed #7c3aed;width:3px"></i>alert fired <i style="border-left:2px dashed #c4b5fd;width:3px"></i>alert resolved <i style="background:#db2777;width:3px"></i>&#9660; process exited or paused <i style="background:#65a30d;width:3px"></i>&#9650; process restarted or resumed <i style="border-left:2px dotted var(--muted);width:3px"></i>phase boundary</p>`;
  const notDrawn = absent.length ? `<p class="muted absent">Not drawn: ${absent.map(escapeHtml).join(' ')}</p>` : '';
  const blocks = charts.map(
    (c) =>
      `<div class="chart"><h3>${escapeHtml(c.title)}</h3><div class="plot" id="chart-${c.id}" data-series-colors="${escapeHtml(c.series.map((s) => s.color).join(' '))}" data-points="${c.x.length}"></div>${c.note ? `<p class="note">${escapeHtml(c.note)}</p>` : ''}</div>`,
  );
  return `${legend}\n${blocks.join('\n')}${notDrawn}`;
}

interface LoadFigures {
  summary?: {
    count: number;
    failed: number;
    failRate: number;
    rps: number;
    dropped: number;
    errors: Record<string, number>;
    latency: Record<string, number>;
    naiveLatency: Record<string, number>;
  };
}

function loadFigures(summary: RunSummary): LoadFigures['summary'] {
  return (summary.load as LoadFigures | undefined)?.summary;
}

function figuresSection(summary: RunSummary): string {
  const load = loadFigures(summary);
  if (!load) return '<p class="muted">No load summary in this record.</p>';
  const keys = ['p50', 'p90', 'p95', 'p99', 'max'];
  const latency = table(
    ['latency from', ...keys],
    [
      [td('intended start (queueing included)'), ...keys.map((k) => td(ms(load.latency[k]), 'num'))],
      [td('send time (what most tools report)'), ...keys.map((k) => td(ms(load.naiveLatency[k]), 'num'))],
      [td('gap: coordinated omission'), ...keys.map((k) => td(ms((load.latency[k] ?? 0) - (load.naiveLatency[k] ?? 0)), 'num'))],
    ],
  );
  const errors = Object.entries(load.errors)
    .filter(([, n]) => n > 0)
    .sort((x, y) => y[1] - x[1]);
  const errorRows = errors.slice(0, 10).map(([kind, n]) => [td(kind), td(String(n), 'num'), td(pct(n / Math.max(1, load.failed)), 'num')]);
  const rest = errors.slice(10).reduce((sum, [, n]) => sum + n, 0);
  if (rest > 0) errorRows.push([td('other'), td(String(rest), 'num'), td(pct(rest / Math.max(1, load.failed)), 'num')]);
  return `<p>${load.count} requests at ${load.rps.toFixed(1)}/s, ${load.failed} failed (${pct(load.failRate)}), ${load.dropped} dropped by the schedule.</p>
${latency}
<h4>Errors by kind</h4>${errorRows.length ? table(['kind', 'requests', 'share of failures'], errorRows) : '<p class="muted">none</p>'}`;
}

/** Rows of the per-step latency table shown before "and N more". */
export const MAX_STEPS = 20;

/** Latency per journey and step as the load generator measured it: two rows a step, from the intended start and from the send time. */
function loadStepsSection(summary: RunSummary): string {
  const steps = loadSteps(summary);
  if (steps.length === 0) return '';
  const keys = ['p50', 'p90', 'p95', 'p99', 'max'] as const;
  const shown = steps.slice(0, MAX_STEPS);
  const rows = shown.flatMap((s) => {
    const name = s.step === '*' ? `${s.journey} (all steps)` : `${s.journey} / ${s.step}`;
    const cls = s.step === '*' ? 'journey' : '';
    return [
      [td(name, cls), td(String(s.count), 'num'), td(String(s.failed), 'num'), td('intended'), ...keys.map((k) => td(ms(s.latency[k]), 'num'))],
      [td(''), td(''), td(''), td('sent', 'muted'), ...keys.map((k) => td(ms(s.naiveLatency[k]), 'num muted'))],
    ];
  });
  const more = steps.length > MAX_STEPS ? `<p class="more">and ${steps.length - MAX_STEPS} more steps</p>` : '';
  return `<h4>Latency per journey and step (load generator: what a user saw)</h4>${table(['journey / step', 'count', 'errors', 'from', ...keys], rows, 'load-steps')}${more}
<p class="muted">Every request the load generator made, all run long, by the journey and step it belonged to. "intended": from when the schedule wanted the request to start, queueing included; "sent": from when it went on the wire.</p>`;
}

function stepsSection(record: RunRecord): string {
  const start = runStartMs(record.summary);
  const steps = stepLatencies(record.spans, start);
  const errors = errorKinds(record.spans, start);
  if (steps.length === 0) return '';
  const rows = steps.slice(0, MAX_STEPS).map((s) => [td(s.step), td(String(s.count), 'num'), td(String(s.errors), 'num'), ...[s.p50, s.p90, s.p95, s.p99, s.max].map((v) => td(ms(v), 'num'))]);
  const more = steps.length > MAX_STEPS ? `<p class="more">and ${steps.length - MAX_STEPS} more steps</p>` : '';
  const total = errors.reduce((n, e) => n + e.count, 0);
  return `<h4>Latency per entry route (server side, from the traces)</h4>${table(['step', 'count', 'errors', 'p50', 'p90', 'p95', 'p99', 'max'], rows)}${more}
<p class="muted">Each request's server span at its entry service, from the run's start on: time inside the shop, so neither queueing in the load generator (intended start) nor the network before it (send time) is in it; those two are in the tables above.</p>
<h4>Failed requests by status and error type (server side, from the traces; the 10 most frequent)</h4>${errors.length ? table(['status, error type', 'requests', 'share'], errors.map((e) => [td(e.kind), td(String(e.count), 'num'), td(pct(e.count / total), 'num')])) : '<p class="muted">none</p>'}`;
}

function sloSection(summary: RunSummary): string {
  if (!summary.slo?.length) return `<p class="muted">No SLO report: ${escapeHtml(summary.monitoring.reason ?? 'Prometheus did not run')}.</p>`;
  const phases = summary.phases.map((p) => p.name);
  const rows = summary.slo.map((s) => {
    const windows = ['5m', '30m', '1h', '6h']
      .filter((w) => w in s.peakBurnRates)
      .map((w) => {
        const v = s.peakBurnRates[w];
        return `${w} ${v === null || v === undefined ? '-' : `${v.toFixed(1)}x`}`;
      })
      .join(', ');
    return [
      td(s.displayName),
      td(pct(s.objective, 2), 'num'),
      td(s.run.sli === null ? '-' : pct(s.run.sli, 2), 'num'),
      ...phases.map((name) => {
        const w = s.phases.find((p) => p.name === name);
        return td(w?.sli === null || w === undefined ? '-' : pct(w.sli, 2), 'num');
      }),
      td(pct(s.run.budgetConsumed, 1), 'num'),
      td(windows),
      td(s.alerts.length ? `${s.alerts.length} (${s.alerts.map((a) => `${a.labels.slo_tier ?? a.alertname} ${formatOffset(a.firedAtMs)}`).join(', ')})` : 'none'),
    ];
  });
  return `${table(['SLO', 'objective', 'SLI (run)', ...phases.map((p) => `SLI ${p}`), 'budget spent', 'peak burn rate', 'alerts fired'], rows)}
<p class="muted">Burn rate 1 spends the budget exactly over the SLO period; the page alerts fire at 14.4x (1h window) and 6x (6h window), the multiwindow defaults, at the lab's time scale.</p>`;
}

function steadySection(summary: RunSummary): string {
  const first = summary.phases[0]?.name;
  const last = summary.phases.at(-1)?.name;
  if (!first || !last || first === last) return '<p class="muted">The scenario has one phase: nothing to compare.</p>';
  const before = steadyState(summary, first);
  const after = steadyState(summary, last);
  if (!before || !after) return '';
  const row = (label: string, pick: (r: SteadyRow) => number | null, format: (v: number) => string) => {
    const a = pick(before);
    const b = pick(after);
    const change = a === null || b === null ? '-' : `${b >= a ? '+' : ''}${format(b - a)}`;
    return [td(label), td(a === null ? '-' : format(a), 'num'), td(b === null ? '-' : format(b), 'num'), td(change, 'num')];
  };
  return `${table(
    ['', `${first} (before)`, `${last} (after)`, 'change'],
    [
      row('requests / s', (r) => r.rate, (v) => v.toFixed(1)),
      row('error ratio', (r) => r.errorRatio, (v) => pct(v)),
      row('p50 (typical second)', (r) => r.p50, ms),
      row('p95 (typical second)', (r) => r.p95, ms),
      row('p99 (typical second)', (r) => r.p99, ms),
    ],
  )}<p class="muted">From the per-second series (latency from the intended start): each latency is the median over the phase's seconds of that second's percentile.</p>`;
}

function tracesSection(record: RunRecord): string {
  const { summary, spans } = record;
  if (spans.length === 0) return '<p class="muted">No traces in this run record.</p>';
  const start = runStartMs(summary);
  const windows = appliedFaultWindows(summary, record.faultRecords).map((w) => ({ name: w.name, fromMs: start + w.fromMs, toMs: start + w.toMs }));
  const byTrace = tracesById(spans);
  const samples = pickSampleTraces(byTrace, windows, start);
  const logs = record.logs ?? [];
  const html = samples.map((sample) =>
    renderTraceWaterfall(
      sample,
      byTrace.get(sample.traceId) ?? [],
      logs.filter((l) => l.traceId === sample.traceId),
      start,
    ),
  );
  return `<p class="muted">${byTrace.size} traces, ${spans.length} spans in the run. Click a trace, then a span, to see its events (retries, breaker decisions, injected faults) and the trace's logs.</p>${html.join('\n')}`;
}

interface BooksFigures {
  ok?: boolean;
  violations?: Array<{ code: string; message: string }>;
  orders?: Record<string, number>;
  charges?: Record<string, number>;
}

function booksSection(summary: RunSummary): string {
  const books = summary.books as BooksFigures | undefined;
  if (!books || typeof books !== 'object') return '<p class="muted">No books check in this record.</p>';
  const figures = [
    books.orders ? `orders: ${Object.entries(books.orders).map(([k, v]) => `${v} ${k}`).join(', ')}` : '',
    books.charges ? `charges: ${Object.entries(books.charges).map(([k, v]) => `${v} ${k}`).join(', ')}` : '',
  ].filter(Boolean);
  const violations = books.violations ?? [];
  return `<p><span class="${books.ok ? 's-pass' : 's-fail'}">${books.ok ? 'balanced' : `${violations.length} violations`}</span>. ${escapeHtml(figures.join('; '))}</p>${
    violations.length ? `<ul class="plain">${capped(violations, MAX_VIOLATIONS, (v) => `<li><code>${escapeHtml(v.code)}</code> ${escapeHtml(v.message)}</li>`, 'violations').join('')}</ul>` : ''
  }`;
}

function metaSection(summary: RunSummary, meta: RunMeta): string {
  // What the run recorded at its start wins; older records get what the report's build found, said so.
  const env = summary.environment;
  const found = (key: 'commit' | 'node' | 'machine' | 'prometheus' | 'alertmanager') => env?.[key] ?? (meta[key] === undefined ? undefined : `${meta[key]} (at report build)`);
  const items: Array<[string, string | undefined]> = [
    ['scenario', `${summary.scenario}: ${summary.description}`],
    ['scenario file', summary.scenarioSource?.file],
    ['scenario sha256', summary.scenarioSource?.sha256],
    ['run', summary.id],
    ['started', `${summary.startedAt} (${(summary.durationMs / 1_000).toFixed(1)}s)`],
    ['seed', String(summary.options.seed)],
    ['time scale', String(summary.options.timeScale)],
    ['switched off', summary.options.switchedOff?.join(', ') || summary.options.disabled.join(', ') || 'nothing'],
    ['warm-up', summary.warmUp ? `${summary.warmUp.waves} waves, ${summary.warmUp.settled ? 'steady' : 'not steady'} (${summary.warmUp.lastMedianMs.toFixed(0)}ms a journey)` : undefined],
    ['telemetry', `${summary.telemetry.spans} spans in ${summary.telemetry.traces} traces`],
    ['monitoring', summary.monitoring.available ? 'Prometheus and Alertmanager ran' : `not run: ${summary.monitoring.reason ?? ''}`],
    ['commit', found('commit')],
    ['Node', found('node')],
    ['machine', found('machine')],
    ['Prometheus', found('prometheus')],
    ['Alertmanager', found('alertmanager')],
    ['report built', meta.builtAt],
  ];
  return `<dl class="meta">${items
    .filter((item): item is [string, string] => item[1] !== undefined)
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('')}</dl>`;
}

/** The two runs' charts on one axis: A's series solid, B's dashed and labelled B. */
export function compareCharts(a: RunRecord, b: RunRecord): { charts: ChartSpec[] } {
  const breaker = [a, b].some((r) => r.summary.circuit.length > 0 || r.summary.expectations.some((e) => e.type === 'circuit'));
  const chartsA = buildCharts(a.summary, { spans: a.spans, breaker }).charts;
  const chartsB = buildCharts(b.summary, { spans: b.spans, breaker }).charts;
  const wanted: Record<string, string[]> = {
    requests: ['ok', 'failed'],
    latency: ['p50', 'p99', 'sent p99'],
    errors: ['error ratio'],
    breaker: ['breaker'],
    resilience: ['retries', 'breaker refused'],
    retries: ['retries', 'attempts per call'],
    protection: ['bulkhead rejected', 'rate-limited', 'shed (gateway)'],
    'in-flight': ['in flight'],
    pressure: ['cpu pressure max'],
  };
  const charts: ChartSpec[] = [];
  for (const chartA of chartsA) {
    const chartB = chartsB.find((c) => c.id === chartA.id);
    const labels = wanted[chartA.id];
    if (!chartB || !labels) continue;
    const x = [...new Set([...chartA.x, ...chartB.x])].sort((p, q) => p - q);
    const align = (chart: ChartSpec, values: Array<number | null>) => {
      const at = new Map(chart.x.map((second, i) => [second, values[i] ?? null]));
      return x.map((second) => at.get(second) ?? null);
    };
    const series = labels.flatMap((label) => {
      const sa = chartA.series.find((s) => s.label === label);
      const sb = chartB.series.find((s) => s.label === label);
      return [
        ...(sa ? [{ ...sa, label: `A ${label}`, values: align(chartA, sa.values) }] : []),
        ...(sb ? [{ ...sb, label: `B ${label}`, dash: true, color: labels.length === 1 ? COLOR.runB : sb.color, values: align(chartB, sb.values) }] : []),
      ];
    });
    charts.push({ ...chartA, x, series, note: `A solid, B dashed. ${chartA.note ?? ''}` });
  }
  return { charts };
}

function compareVerdicts(a: RunSummary, b: RunSummary): string {
  const names = [...new Set([...a.expectations.map((e) => e.name), ...b.expectations.map((e) => e.name)])];
  const cell = (e: ExpectationResult | undefined, differs: boolean) =>
    e ? `<td class="s-${e.status}${differs ? ' differs' : ''}">${STATUS_LABEL[e.status]}</td><td class="${differs ? 'differs' : ''}">${escapeHtml(e.measured)}${e.inconclusive ? `<br><span class="muted">not judged: ${escapeHtml(e.inconclusive)}</span>` : ''}</td>` : '<td>-</td><td class="muted">not in this run</td>';
  const rows = names.map((name) => {
    const ea = a.expectations.find((e) => e.name === name);
    const eb = b.expectations.find((e) => e.name === name);
    const differs = ea?.status !== eb?.status;
    return [td(name), td((ea ?? eb)?.expected ?? ''), cell(ea, differs), cell(eb, differs)];
  });
  const head = `<p>A <span class="verdict v-${a.verdict}">${VERDICT_LABEL[a.verdict]}</span> &nbsp; B <span class="verdict v-${b.verdict}">${VERDICT_LABEL[b.verdict]}</span> &nbsp; <span class="muted">rows whose status differs are highlighted</span></p>`;
  return head + table(['expectation', 'expected', 'A', 'A measured', 'B', 'B measured'], rows, 'compare-verdicts').replace(/<tr>((?:(?!<\/tr>).)*class="[^"]*differs)/g, '<tr class="differs-row">$1');
}

function compareFigures(a: RunSummary, b: RunSummary): string {
  const la = loadFigures(a);
  const lb = loadFigures(b);
  const rows: Array<[string, number | undefined, number | undefined, (v: number) => string, boolean]> = [
    ['requests', la?.count, lb?.count, (v) => String(v), false],
    ['failed', la?.failed, lb?.failed, (v) => String(v), true],
    ['error ratio', la?.failRate, lb?.failRate, (v) => pct(v), true],
    ['dropped', la?.dropped, lb?.dropped, (v) => String(v), true],
    ['p50 (intended)', la?.latency.p50, lb?.latency.p50, ms, true],
    ['p95 (intended)', la?.latency.p95, lb?.latency.p95, ms, true],
    ['p99 (intended)', la?.latency.p99, lb?.latency.p99, ms, true],
    ['p99 (sent)', la?.naiveLatency.p99, lb?.naiveLatency.p99, ms, true],
    ['breaker transitions', a.circuit.filter((c) => ((c as { offsetMs?: number }).offsetMs ?? 0) >= 0).length, b.circuit.filter((c) => ((c as { offsetMs?: number }).offsetMs ?? 0) >= 0).length, (v) => String(v), false],
    ['alerts fired', a.monitoring.alerts?.length, b.monitoring.alerts?.length, (v) => String(v), true],
    ['spans', a.telemetry.spans, b.telemetry.spans, (v) => String(v), false],
  ];
  const body = rows.map(([label, va, vb, format, worseUp]) => {
    const differs = va !== undefined && vb !== undefined && Math.abs(va - vb) > Math.max(1e-9, 0.1 * Math.max(Math.abs(va), Math.abs(vb)));
    const change = va === undefined || vb === undefined ? '-' : `${vb >= va ? '+' : ''}${format(round(vb - va, 4))}`;
    const direction = !differs || !worseUp || va === undefined || vb === undefined ? '' : vb > va ? 'up' : 'down';
    return [td(label), td(va === undefined ? '-' : format(va), `num${differs ? ' differs' : ''}`), td(vb === undefined ? '-' : format(vb), `num${differs ? ' differs' : ''}`), td(change, `num ${direction}`)];
  });
  return `${table(['', 'A', 'B', 'B - A'], body)}<p class="muted">Highlighted: the runs differ by more than 10%; red: B is worse.</p>`;
}

function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return Math.abs(value) >= 1_000 ? `${(value / 1_000).toFixed(2)}s` : `${value.toFixed(0)}ms`;
}

function pct(value: number, digits = 1): string {
  return `${(value * 100).toFixed(digits)}%`;
}

import { describe, expect, it } from 'vitest';
import type { FlatSpan } from '../../collector/trace-query.ts';
import { SPAN_EVENT } from '../../demo-services/kit/conventions.ts';
import { embedJson } from './html.ts';
import { appliedFaultWindows, breakerLevels, buildCharts, buildMarks, downsamplePeaks, errorKindColumns, errorKinds, MAX_POINTS, steadyState, stepLatencies, timelineEntries } from './model.ts';
import { MAX_TIMELINE_ROWS, MAX_VIOLATIONS, renderComparison, renderRunReport, type ChartLibrary } from './render.ts';
import { syntheticRun } from './synthetic.ts';
import { pickSampleTraces, tracesById } from './traces.ts';
import { chartLibrary } from './write.ts';

const library: ChartLibrary = { script: 'window.uPlot = function () {};', style: '.uplot{}' };

/** The text of the cells of each table row whose first cell is a status. */
function verdictRows(html: string): string[][] {
  const table = html.match(/<table class="verdict-table">([\s\S]*?)<\/table>/)?.[1] ?? '';
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) => [...(row[1] as string).matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((cell) => cell[1] as string)).filter((cells) => cells.length === 4);
}

describe('report.html rendering', () => {
  it('puts the verdict first, one row per expectation with expected, measured and the INCONCLUSIVE reason', () => {
    const record = syntheticRun({ seconds: 60 });
    const html = renderRunReport(record, library);
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="over-time"'));
    const rows = verdictRows(html);
    expect(rows.map((r) => r[0])).toEqual(['PASS', 'PASS', 'INCONCLUSIVE']);
    expect(rows.map((r) => r[1])).toEqual(record.summary.expectations.map((e) => e.name));
    expect(rows.map((r) => r[2])).toEqual(record.summary.expectations.map((e) => e.expected.replace(/</g, '&lt;')));
    expect(rows.map((r) => r[3])).toEqual(record.summary.expectations.map((e) => e.measured));
    expect(html).toContain('not judged: cpu pressure 81% during recovery, limit 60%');
  });

  it('escapes what comes from the run record, so no value can add markup or end the data script early', () => {
    const record = syntheticRun({
      seconds: 30,
      expectations: [{ name: '<img src=x onerror=alert(1)>', type: 'threshold', expected: 'p(95)<100', measured: '</script><script>alert(1)</script>', ok: false, status: 'fail' }],
    });
    record.summary.phases[0]!.name = '</script><b>';
    const html = renderRunReport(record, library);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('</script><script>alert(1)');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    const data = html.match(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/)?.[1] as string;
    expect(JSON.parse(data).marks[0].phases[0].name).toBe('</script><b>');
    expect(embedJson('</script>')).toBe('"\\u003c/script>"');
  });

  it('is one self-contained file: the chart library, style and page script inline, nothing fetched', async () => {
    const html = renderRunReport(syntheticRun({ seconds: 60 }), await chartLibrary());
    expect(html).toMatch(/<script>[\s\S]*uPlot[\s\S]*<\/script>/);
    expect(html).toContain('function drawReportCharts()');
    // The page script is the typed source with its types stripped: plain JavaScript.
    expect(new Function(html.match(/<script>\((function drawReportCharts[\s\S]*?)\)\(\);<\/script>/)?.[1] ?? 'syntax error (')).toBeTypeOf('function');
    expect(html).not.toMatch(/<(script|link|img|iframe)[^>]+(src|href)=/i);
    // The only address is in uPlot's licence comment, which stays.
    expect(html.replace('https://github.com/leeoniya/uPlot', '')).not.toMatch(/https?:\/\//);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('prefers-color-scheme: dark');
    expect(html).toContain('@media print');
  });

  it('draws fault windows where faults.jsonl puts them, and the planned windows only when the file is missing', () => {
    const record = syntheticRun({ seconds: 90 });
    expect(appliedFaultWindows(record.summary, record.faultRecords)).toEqual([{ name: 'bank-outage', target: 'payment->bank', fromMs: 30_003, toMs: 60_002 }]);
    expect(appliedFaultWindows(record.summary, undefined)).toEqual([{ name: 'bank-outage', target: 'payment->bank', fromMs: 30_000, toMs: 60_000 }]);
    // Applied and never removed: it lasts to the run's end.
    expect(appliedFaultWindows(record.summary, record.faultRecords!.slice(0, 1))[0]?.toMs).toBe(90_000);
    const marks = buildMarks(record.summary, record.faultRecords);
    expect(marks.faults).toEqual([{ from: 30.003, to: 60.002, label: 'bank-outage (payment->bank)' }]);
    expect(marks.alerts.map((a) => [a.at, a.fired])).toEqual([
      [33, true],
      [65, false],
    ]);
    expect(marks.breaker[0]).toMatchObject({ at: 32, to: 'open' });
    expect(renderRunReport({ ...record, faultRecords: undefined }, library)).toContain('faults.jsonl is missing');
  });

  it('gives the breaker the worst state of each second, starting from where the warm-up left it', () => {
    const marks = [
      { offsetMs: -5_000, from: 'closed', to: 'open' },
      { offsetMs: 500, from: 'open', to: 'half_open' },
      { offsetMs: 700, from: 'half_open', to: 'closed' },
      { offsetMs: 3_200, from: 'closed', to: 'open' },
      { offsetMs: 3_900, from: 'open', to: 'half_open' },
    ];
    expect(breakerLevels(marks, [0, 1, 2, 3, 4])).toEqual([2, 0, 0, 2, 1]);
  });

  it('downsamples a long series to buckets that keep each bucket peak', () => {
    const x = Array.from({ length: 3_600 }, (_, i) => i);
    const spiky = x.map((i) => (i === 1_234 ? 500 : 1));
    const down = downsamplePeaks(x, [spiky, x.map(() => null)]);
    expect(down.x.length).toBeLessThanOrEqual(MAX_POINTS);
    expect(down.bucketSeconds).toBe(4);
    expect(Math.max(...(down.columns[0] as number[]))).toBe(500);
    expect(down.columns[1]!.every((v) => v === null)).toBe(true);
    const { charts } = buildCharts(syntheticRun({ seconds: 3_600, traces: 100 }).summary, { spans: [], breaker: true });
    for (const chart of charts) {
      expect(chart.x.length).toBeLessThanOrEqual(MAX_POINTS);
      for (const series of chart.series) expect(series.values).toHaveLength(chart.x.length);
    }
    expect(charts[0]?.note).toContain('peak of 4 seconds');
  });

  it('draws every chart the issue lists that the record has data for, on seconds since the start', () => {
    const record = syntheticRun({ seconds: 60 });
    const { charts } = buildCharts(record.summary, { spans: record.spans, breaker: true });
    expect(charts.map((c) => c.id)).toEqual(['requests', 'latency', 'errors', 'error-kinds', 'breaker', 'breakers', 'resilience', 'retries', 'protection', 'in-flight', 'pressure']);
    expect(charts[0]?.x.slice(0, 3)).toEqual([0, 1, 2]);
    const retries = charts.find((c) => c.id === 'resilience')?.series.find((s) => s.label === 'retries')?.values as number[];
    // Two retry events (100 and 200 ms in) for each trace of the outage (seconds 20 to 39), 20 traces a second.
    expect(retries.reduce((a, b) => a + b, 0)).toBe(20 * 20 * 2);
    expect(retries.slice(21, 40).every((n) => n >= 38 && n <= 42)).toBe(true);
    expect([...retries.slice(0, 20), ...retries.slice(41)].every((n) => n === 0)).toBe(true);
  });

  it('draws latency from the send time beside the intended start, errors by kind (top 10 and "other"), and the series from Prometheus on the same seconds', () => {
    const record = syntheticRun({ seconds: 60 });
    const { charts, absent } = buildCharts(record.summary, { spans: [], breaker: true });
    const chart = (id: string) => charts.find((c) => c.id === id)!;
    const latency = chart('latency');
    expect(latency.series.map((s) => [s.label, s.dash === true])).toEqual([
      ['p50', false],
      ['p95', false],
      ['p99', false],
      ['sent p50', true],
      ['sent p95', true],
      ['sent p99', true],
    ]);
    // In the outage (seconds 20 to 39) the send-time p99 is half the intended one: the gap is drawn.
    expect(latency.series[5]!.values[30]).toBeCloseTo((latency.series[2]!.values[30] as number) * 0.5, 0);
    const kinds = chart('error-kinds').series;
    expect(kinds).toHaveLength(11);
    expect(kinds[0]!.label).toMatch(/^HTTP 503 dependency-circuit-open \(\d+\)$/);
    expect(kinds.at(-1)!.label).toMatch(/^other \(\d+\)$/);
    // Every failure is in exactly one series.
    const failed = record.summary.timeSeries.reduce((n: number, p) => n + (p as { failed: number }).failed, 0);
    expect(kinds.flatMap((k) => k.values).reduce((a: number, b) => a + (b ?? 0), 0)).toBe(failed);
    const retries = chart('retries');
    expect(retries.series.map((s) => s.label)).toEqual(['retries', 'attempts per call']);
    expect(retries.series[1]!.rightUnit).toBe('per call');
    expect(retries.series[0]!.values.slice(0, 20).every((v) => v === 0)).toBe(true);
    expect(retries.series[0]!.values.slice(20, 40).every((v) => (v as number) >= 20)).toBe(true);
    expect(chart('protection').series.map((s) => s.label)).toEqual(['bulkhead rejected', 'rate-limited', 'shed (gateway)']);
    // Every breaker by caller and dependency, on the same seconds: checkout's opens in the outage, payment's stays closed.
    const breakers = chart('breakers').series;
    expect(breakers.map((s) => [s.label, s.step])).toEqual([
      ['checkout->payment', true],
      ['payment->bank', true],
    ]);
    expect(breakers[0]!.values.slice(0, 20).every((v) => v === 0)).toBe(true);
    expect(breakers[0]!.values[21]).toBe(2);
    expect(breakers[1]!.values.every((v) => v === 0)).toBe(true);
    expect(chart('in-flight').series[0]!.values[0]).toBeGreaterThan(0);
    expect(absent).toEqual([]);

    // A record without Prometheus series or failures says what is not drawn and why.
    record.summary.metricSeries = undefined;
    record.summary.monitoring = { available: false, reason: 'prometheus not on PATH' };
    for (const p of record.summary.timeSeries as Array<{ failed: number; ok: number; errors?: unknown }>) {
      p.ok += p.failed;
      p.failed = 0;
      delete p.errors;
    }
    const bare = buildCharts(record.summary, { spans: [], breaker: false });
    expect(bare.charts.map((c) => c.id)).not.toContain('retries');
    expect(bare.absent.join(' ')).toContain('no Prometheus series in this record (prometheus not on PATH)');
    expect(bare.absent.join(' ')).toContain('no request failed');
    expect(renderRunReport(record, library)).toContain('Not drawn: ');
    expect(errorKindColumns([])).toEqual([]);
  });

  it('marks process exits and restarts on every chart and in the timeline', () => {
    const record = syntheticRun({ seconds: 60 });
    const marks = buildMarks(record.summary, record.faultRecords);
    // The kill's exit and the restart: the signal itself is in the timeline only.
    expect(marks.processes).toEqual([
      { at: 15.005, label: 'payment-1 exited (signal SIGKILL)', down: true },
      { at: 17, label: 'payment-1 restarted as pid 4242, ready after 1.9s', down: false },
    ]);
    expect(timelineEntries(record.summary, record.faultRecords).filter((e) => e.kind === 'process').map((e) => e.text)).toEqual(['payment-1 sent SIGKILL', 'payment-1 exited (signal SIGKILL)', 'payment-1 restarted as pid 4242, ready after 1.9s']);
    const data = JSON.parse(renderRunReport(record, library).match(/id="report-data">([\s\S]*?)<\/script>/)?.[1] as string) as { marks: Array<{ processes: unknown[] }> };
    expect(data.marks[0]!.processes).toHaveLength(2);
  });

  it('shows latency per journey and step as the load generator saw it, and the run\'s scenario hash and versions', () => {
    const record = syntheticRun({ seconds: 60 });
    const html = renderRunReport(record, library, { commit: 'abc', node: 'v0', builtAt: 'now' });
    const table = html.match(/<table class="load-steps">([\s\S]*?)<\/table>/)?.[1] ?? '';
    const rows = [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) => [...(r[1] as string).matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1])).filter((cells) => cells.length > 0);
    expect(rows[0]).toEqual(['checkout (all steps)', '1200', '12', 'intended', '70ms', '600ms', '900ms', '2.40s', '4.80s']);
    expect(rows[1]).toEqual(['', '', '', 'sent', '65ms', '500ms', '700ms', '1.20s', '4.00s']);
    expect(rows[4]?.slice(0, 3)).toEqual(['checkout / checkout', '600', '12']);
    expect(html).toContain('Latency per entry route (server side, from the traces)');
    // The run's own environment wins over where the report was built.
    expect(html).toContain(`<dt>scenario sha256</dt><dd>${'0'.repeat(64)}</dd>`);
    expect(html).toContain(`<dt>commit</dt><dd>${'f'.repeat(40)}</dd>`);
    expect(html).toContain('<dd>prometheus, version 2.45.3</dd>');
    record.summary.environment = undefined;
    expect(renderRunReport(record, library, { commit: 'abc' })).toContain('<dt>commit</dt><dd>abc (at report build)</dd>');
  });

  it('compares the baseline with the recovery from the per-second series', () => {
    const record = syntheticRun({ seconds: 60 });
    const before = steadyState(record.summary, 'baseline');
    expect(before?.rate).toBe(20);
    expect(before?.p50).toBeGreaterThan(40);
    expect(before?.p50).toBeLessThan(90);
    expect(steadyState(record.summary, 'outage')?.errorRatio).toBeGreaterThan(0.35);
    expect(steadyState(record.summary, 'nope')).toBeUndefined();
  });

  it('gives latency per step and failures by status and error type from the requests the run made', () => {
    const request = (i: number, route: string | undefined, durationMs: number, status?: number, type?: string): FlatSpan => ({
      traceId: `t${i}`,
      spanId: `s${i}`,
      name: 'POST',
      kind: 2,
      service: 'gateway',
      startMs: i < 0 ? -1_000 : i,
      endMs: i + durationMs,
      durationMs,
      attributes: { 'http.request.method': 'POST', ...(route ? { 'http.route': route } : { 'url.path': '/raw' }), ...(status ? { 'http.response.status_code': status } : {}), ...(type ? { 'error.type': type } : {}) },
      events: [],
      status: { code: status !== undefined && status >= 500 ? 2 : type ? 2 : 0 },
    });
    const spans = [
      ...Array.from({ length: 100 }, (_, i) => request(i, '/api/checkout', i + 1, i >= 90 ? 503 : 200)),
      request(200, undefined, 7, undefined, 'aborted'),
      // The warm-up's: before the run started, not counted.
      request(-1, '/api/checkout', 99_999, 504),
    ];
    const steps = stepLatencies(spans, 0);
    expect(steps).toEqual([
      { step: 'gateway POST /api/checkout', count: 100, errors: 10, p50: 50, p90: 90, p95: 95, p99: 99, max: 100 },
      { step: 'gateway POST /raw', count: 1, errors: 1, p50: 7, p90: 7, p95: 7, p99: 7, max: 7 },
    ]);
    expect(errorKinds(spans, 0)).toEqual([
      { kind: 'HTTP 503', count: 10 },
      { kind: 'no response, aborted', count: 1 },
    ]);
    expect(errorKinds(spans, 0, 1)).toEqual([
      { kind: 'HTTP 503', count: 10 },
      { kind: 'other', count: 1 },
    ]);
  });

  it('picks the slowest trace, the first failing one and one with retries inside each fault window', () => {
    const span = (traceId: string, startMs: number, durationMs: number, failed: boolean, retry = false): FlatSpan => ({
      traceId,
      spanId: `${traceId}-1`,
      name: 'GET /',
      kind: 2,
      service: 'gateway',
      startMs,
      endMs: startMs + durationMs,
      durationMs,
      attributes: {},
      events: retry ? [{ name: SPAN_EVENT.retry, timeMs: startMs + 1, attributes: {} }] : [],
      status: { code: failed ? 2 : 0 },
    });
    // 'w' is the warm-up's, before the run started: never picked, however slow or failed.
    const spans = [span('w', -500, 5_000, true, true), span('a', 0, 10, false), span('b', 100, 900, false), span('c', 200, 10, true), span('d', 1_000, 10, true), span('e', 1_100, 10, false, true)];
    expect(pickSampleTraces(tracesById(spans), [{ name: 'bank-outage', fromMs: 900, toMs: 2_000 }], 0)).toEqual([
      { reason: 'the slowest trace', traceId: 'b' },
      { reason: 'the first failing trace', traceId: 'c' },
      { reason: 'inside bank-outage, with retries', traceId: 'e' },
    ]);
  });

  it('draws sample traces as waterfalls whose spans list their events', () => {
    const html = renderRunReport(syntheticRun({ seconds: 60 }), library);
    const traces = html.match(/<details class="trace"/g) ?? [];
    expect(traces.length).toBe(3);
    expect(html).toMatch(/inside bank-outage, with retries[^<]*2 retries/);
    expect(html).toMatch(/<li class="event ev-retry">.*<b>retry<\/b> <code>retry.attempt=2 retry.delay_ms=40<\/code>/);
  });

  it('caps long lists with a visible "and N more"', () => {
    const record = syntheticRun({ seconds: 600 });
    record.summary.books = { ok: false, violations: Array.from({ length: MAX_VIOLATIONS + 7 }, (_, i) => ({ code: 'charge-without-order', message: `charge ${i}` })) };
    record.summary.circuit = Array.from({ length: MAX_TIMELINE_ROWS + 5 }, (_, i) => ({ offsetMs: i * 1_000, from: 'closed', to: 'open' }));
    const html = renderRunReport(record, library);
    expect(html).toContain('and 7 more violations');
    expect(html).toMatch(/and \d+ more events/);
  });

  it('compares two runs: verdicts side by side, rows that differ highlighted, charts on one axis', () => {
    const a = syntheticRun({ seconds: 60 });
    const b = syntheticRun({ seconds: 45 });
    b.summary.expectations = b.summary.expectations.map((e, i) => (i === 0 ? { ...e, status: 'fail', ok: false, measured: 'never opened' } : e));
    b.summary.options.switchedOff = ['circuitBreaker'];
    const html = renderComparison(a, b, library);
    expect(html).toContain('switched off: circuitBreaker');
    const rows = [...html.matchAll(/<tr( class="differs-row")?>(<td>[^<]*<\/td>)/g)].map((m) => [m[1] !== undefined, m[2]]);
    expect(rows.filter(([differs]) => differs).map(([, name]) => name)).toEqual(['<td>the payment breaker opens during the outage and closes after it</td>']);
    const data = JSON.parse(html.match(/id="report-data">([\s\S]*?)<\/script>/)?.[1] as string) as { charts: Array<{ id: string; x: number[]; series: Array<{ label: string; values: unknown[] }> }>; marks: unknown[] };
    expect(data.marks).toHaveLength(2);
    const requests = data.charts.find((c) => c.id === 'requests');
    expect(requests?.x).toHaveLength(60);
    expect(requests?.series.map((s) => s.label)).toEqual(['A ok', 'B ok', 'A failed', 'B failed']);
    // B is shorter: its seconds past its end are gaps, not zeros.
    expect(requests?.series[1]?.values.slice(45)).toEqual(Array(15).fill(null));
  });
});

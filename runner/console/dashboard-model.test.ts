// The console draws the dashboards from their own JSON: every shipped
// dashboard loads, each panel is drawn or says why not, every query fills in
// (and parses, with promtool when installed), variables substitute as Grafana
// does, a bad file is named with the bad field's path, and the page's script
// runs on its own (inlined, against a stand-in DOM and uPlot).

import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findTool, TOOL_PACKAGE } from '../../slo/tools.ts';
import { checkPromql, formatProblems } from '../../dashboards/promql-check.ts';
import { dashboardClientScript, type DashboardIo, type DashboardView, type DrawOptions, type MatrixSeries } from './dashboard-client.ts';
import {
  dashboardList,
  DashboardModelError,
  formatValue,
  interpolateExpr,
  loadDashboards,
  parseDashboard,
  parseLabelValues,
  prometheusGraphUrl,
  readDashboard,
  UNIT_FORMATS,
  unitFormat,
  type DashboardModel,
  type QueryTime,
  type VariableModel,
} from './dashboard-model.ts';

const DIR = join(import.meta.dirname, '../../dashboards/faultline');
const dashboards = await loadDashboards(DIR);
const TIME: QueryTime = { stepSeconds: 15, rangeSeconds: 1800, scrapeIntervalSeconds: 15 };
const promtool = await findTool('promtool');
if (promtool === undefined) console.warn(`SKIPPED: promtool is not on PATH (apt-get install ${TOOL_PACKAGE.promtool}); the filled-in PromQL is not parsed here.`);

/** Every expression of every dashboard (panel targets and variable queries' selectors) filled in with `selection`. */
function filledQueries(selection: Record<string, string[]>, time = TIME): Array<{ dashboard: string; panel: string; expr: string }> {
  return dashboards.flatMap((d) => [
    ...d.variables
      .filter((v) => v.type === 'query')
      .map((v) => ({ dashboard: d.uid, panel: `variable ${v.name}`, expr: parseLabelValues(interpolateExpr(v.query, d.variables, selection, time))?.match ?? `(${v.query})` })),
    ...d.panels.flatMap((p) => p.targets.map((t) => ({ dashboard: d.uid, panel: p.title, expr: interpolateExpr(t.expr, d.variables, selection, time) }))),
  ]);
}

describe('the shipped dashboards', () => {
  it('all load, with the uid and title of their JSON', async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();
    expect(dashboards).toHaveLength(files.length);
    for (const [index, file] of files.entries()) {
      const json = JSON.parse(await readFile(join(DIR, file), 'utf8')) as { uid: string; title: string };
      expect(dashboardList(dashboards)[index]).toEqual({ uid: json.uid, title: json.title });
      expect(dashboards[index]?.file).toBe(join(DIR, file));
    }
  });

  it('has every panel drawn, or a reason and a query to link to', () => {
    for (const d of dashboards) {
      expect(d.panels.length, d.uid).toBeGreaterThan(0);
      for (const p of d.panels) {
        const where = `${d.uid} / ${p.title}`;
        if (p.drawable) {
          expect(p.reason, where).toBeNull();
          expect(p.drawAs, where).not.toBeNull();
          if (p.drawAs !== 'text') expect(p.targets.length, where).toBeGreaterThan(0);
        } else {
          expect(p.reason, where).toMatch(/\w/);
          expect(p.targets.length, where).toBeGreaterThan(0);
        }
        expect(['timeseries', 'stat'].includes(p.type), where).toBe(p.drawable);
        expect(p.row, where).not.toBeNull();
      }
    }
    const chaos = dashboards.find((d) => d.uid.includes('chaos'));
    expect(chaos?.panels.find((p) => p.type === 'table')?.reason).toBe('tables are not drawn in the console');
    expect(chaos?.panels.find((p) => p.type === 'state-timeline')?.reason).toBe('state timelines are not drawn in the console');
  });

  it('keeps rows, gridPos, units, thresholds and the stat calc', () => {
    const overview = dashboards.find((d) => d.title === 'Faultline / Service overview') as DashboardModel;
    expect(overview.rows.map((r) => r.title)).toEqual(expect.arrayContaining(['Overview', 'Rate', 'Errors']));
    expect(overview.rangeSeconds).toBe(1800);
    expect(overview.refreshSeconds).toBe(10);
    const errors = overview.panels.find((p) => p.title === 'Server error ratio') as DashboardModel['panels'][number];
    expect(errors).toMatchObject({ drawAs: 'stat', reduce: 'lastNotNull', unit: 'percentunit', format: { kind: 'percent', factor: 100 }, gridPos: { x: expect.any(Number), w: 6, h: 4 } });
    expect(errors.thresholds.steps[0]).toEqual({ value: null, color: '#73BF69' });
    expect(errors.thresholds.steps.length).toBeGreaterThan(1);
    const byService = overview.panels.find((p) => p.title === 'Requests by service');
    expect(byService).toMatchObject({ drawAs: 'timeseries', unit: 'reqps', targets: [{ refId: 'A', legendFormat: '{{job}}' }] });
    const variables = overview.variables.filter((v) => !v.hidden);
    expect(variables.map((v) => v.name)).toEqual(['service', 'instance', 'route']);
    expect(variables[0]).toMatchObject({ type: 'query', query: 'label_values(http_server_request_duration_seconds_count, job)', multi: true, includeAll: true, allValue: '.+', current: ['$__all'] });
    expect(overview.variables.find((v) => v.name === 'ds_prometheus')).toMatchObject({ type: 'datasource', query: 'prometheus', hidden: true, current: ['prometheus'] });
  });

  it('uses only units the console prints as Grafana does', () => {
    const units = new Set(dashboards.flatMap((d) => d.panels.map((p) => p.unit)));
    for (const unit of units) expect(Object.keys(UNIT_FORMATS), unit).toContain(unit);
    expect([...units].sort()).toEqual(expect.arrayContaining(['bytes', 'none', 'percentunit', 'reqps', 's', 'short']));
  });

  it('leaves no variable behind once filled with the defaults or a selection', () => {
    const some = { service: ['checkout', 'catalog'], instance: ['checkout-1'], route: ['/checkout'], dependency: ['payment'], slo: ['checkout-availability'], journey: ['browse'], proxy: ['payment-bank'], signal: ['traces'] };
    for (const query of [...filledQueries({}), ...filledQueries(some)]) expect(query.expr, `${query.dashboard} / ${query.panel}`).not.toMatch(/\$|\[\[/);
  });

  describe.skipIf(promtool === undefined)('promtool', () => {
    it('parses every filled-in expression', async () => {
      const some = { service: ['checkout', 'catalog.v2'], instance: ['checkout-1'], route: ['/items/{id}'], journey: ['browse'] };
      const queries = [...filledQueries({}), ...filledQueries(some, { stepSeconds: 2, rangeSeconds: 900, scrapeIntervalSeconds: 1 })];
      const check = await checkPromql(promtool as string, queries);
      expect(check.problems, formatProblems(check.problems)).toEqual([]);
      expect(check.ok, check.output).toBe(true);
      expect(check.parsed).toBe(queries.length);
    });
  });
});

describe('interpolateExpr', () => {
  const variable = (name: string, fields: Partial<VariableModel> = {}): VariableModel => ({
    name,
    label: name,
    type: 'query',
    query: '',
    options: [],
    current: [],
    multi: false,
    includeAll: false,
    allValue: null,
    hidden: false,
    ...fields,
  });
  const vars = [
    variable('single', { current: ['checkout'] }),
    variable('multi', { multi: true, includeAll: true, current: ['$__all'] }),
    variable('custom_all', { multi: true, includeAll: true, allValue: 'pay.*', current: ['$__all'] }),
    variable('quoted', { current: ['a"b\\c'] }),
  ];
  const fill = (expr: string, selected: Record<string, string[]> = {}, time = TIME) => interpolateExpr(expr, vars, selected, time);

  it('fills a single value in every syntax, escaped for a PromQL string', () => {
    expect(fill('up{job="$single", a="${single}", b="[[single]]"}')).toBe('up{job="checkout", a="checkout", b="checkout"}');
    expect(fill('up{job="$quoted"}')).toBe('up{job="a\\"b\\\\c"}');
  });

  it('fills a multi-value variable as a regex alternation, one value escaped alone', () => {
    expect(fill('up{job=~"$multi"}', { multi: ['a', 'b'] })).toBe('up{job=~"(a|b)"}');
    expect(fill('up{job=~"$multi"}', { multi: ['catalog.v2'] })).toBe('up{job=~"catalog\\\\.v2"}');
    expect(fill('up{job=~"${single:regex}"}', { single: ['a+b'] })).toBe('up{job=~"a\\\\+b"}');
    expect(fill('up{job=~"${multi:pipe}"}', { multi: ['a', 'b'] })).toBe('up{job=~"a|b"}');
    expect(fill('x{a="[[multi:csv]]"}', { multi: ['a', 'b'] })).toBe('x{a="a,b"}');
  });

  it('fills All with the allValue, else .*', () => {
    expect(fill('up{job=~"$multi"}')).toBe('up{job=~".*"}');
    expect(fill('up{job=~"$custom_all"}')).toBe('up{job=~"pay.*"}');
    expect(fill('up{job=~"$custom_all"}', { custom_all: ['x'] })).toBe('up{job=~"x"}');
  });

  it('fills the built-ins from the step, range and scrape interval', () => {
    // Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval).
    expect(fill('rate(x[$__rate_interval])')).toBe('rate(x[60s])');
    expect(fill('rate(x[$__rate_interval])', {}, { stepSeconds: 60, rangeSeconds: 3600, scrapeIntervalSeconds: 1 })).toBe('rate(x[61s])');
    expect(fill('rate(x[${__rate_interval}])', {}, { stepSeconds: 0.5, rangeSeconds: 60, scrapeIntervalSeconds: 0.25 })).toBe('rate(x[1s])');
    expect(fill('avg_over_time(x[$__interval]) $__interval_ms')).toBe('avg_over_time(x[15s]) 15000');
    expect(fill('increase(x[$__range]) $__range_s $__range_ms')).toBe('increase(x[1800s]) 1800 1800000');
  });

  it('leaves a variable it does not know as written', () => {
    expect(fill('up{job="$nope"} ${other}')).toBe('up{job="$nope"} ${other}');
  });
});

describe('a dashboard JSON with a bad field', () => {
  const good = (): Record<string, unknown> => ({ uid: 'u', title: 'T', panels: [{ id: 1, type: 'timeseries', title: 'p', gridPos: { x: 0, y: 0, w: 12, h: 8 }, targets: [{ expr: 'up' }] }] });

  it('is an error naming the file and the path of each bad field', () => {
    const bad = good();
    (bad.panels as Array<Record<string, unknown>>)[0] = { id: 1, type: 'timeseries', gridPos: { x: 0, y: 0, w: '12', h: 8 }, fieldConfig: { defaults: { thresholds: { mode: 'absolute', steps: [{ value: 1 }] } } } };
    bad.templating = { list: [{ name: 'x', type: 'adhoc' }] };
    expect(() => parseDashboard(bad, 'dashboards/bad.json')).toThrow(DashboardModelError);
    let thrown: Error | undefined;
    try {
      parseDashboard(bad, 'dashboards/bad.json');
    } catch (error) {
      thrown = error as Error;
    }
    expect(thrown?.message).toMatch(/^dashboards\/bad\.json: /);
    expect(thrown?.message).toContain('panels[0].gridPos.w: ');
    expect(thrown?.message).toContain('panels[0].fieldConfig.defaults.thresholds.steps[0].color: ');
    expect(thrown?.message).toContain('templating.list[0].type: ');
    expect((thrown as DashboardModelError).code).toBe('FL_DASHBOARD_INVALID');
    expect(() => parseDashboard({ title: 'T' }, 'x.json')).toThrow('x.json: uid: ');
  });

  it('is an error naming a file that is not JSON', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-dashboard-model-'));
    try {
      await writeFile(join(dir, 'broken.json'), '{"uid": ');
      await expect(readDashboard(join(dir, 'broken.json'))).rejects.toThrow(`${join(dir, 'broken.json')}: not JSON`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('marks a panel on another datasource, or with a calc the console lacks, not drawable', () => {
    const json = good();
    json.templating = { list: [{ name: 'ds_loki', type: 'datasource', query: 'loki', current: { value: 'loki' } }] };
    json.panels = [
      { id: 1, type: 'timeseries', title: 'logs', gridPos: { x: 0, y: 0, w: 12, h: 8 }, datasource: { uid: '${ds_loki}' }, targets: [{ expr: 'count_over_time({job="a"}[1m])' }] },
      { id: 2, type: 'stat', title: 'p', gridPos: { x: 12, y: 0, w: 12, h: 8 }, options: { reduceOptions: { calcs: ['p95'] } }, targets: [{ expr: 'up' }] },
      { id: 3, type: 'gauge', title: 'g', gridPos: { x: 0, y: 8, w: 6, h: 4 }, targets: [{ expr: 'up' }] },
      { id: 4, type: 'text', title: 't', gridPos: { x: 6, y: 8, w: 6, h: 4 }, options: { content: '# Hello', mode: 'markdown' } },
      { id: 5, type: 'heatmap', title: 'h', gridPos: { x: 12, y: 8, w: 6, h: 4 }, targets: [{ expr: 'up' }] },
    ];
    const model = parseDashboard(json, 'x.json');
    expect(model.panels.map((p) => [p.drawAs, p.reason])).toEqual([
      [null, 'it queries loki; the console draws Prometheus queries only'],
      [null, 'its value is reduced by p95, which the console does not compute'],
      ['stat', null],
      ['text', null],
      [null, 'heatmaps are not drawn in the console'],
    ]);
    expect(model.panels[3]?.text).toBe('# Hello');
  });

  it('reads the panels a collapsed row holds, under that row', () => {
    const json = good();
    json.panels = [
      { id: 1, type: 'row', title: 'Open', gridPos: { x: 0, y: 0, w: 24, h: 1 } },
      { id: 2, type: 'stat', title: 'a', gridPos: { x: 0, y: 1, w: 12, h: 4 }, targets: [{ expr: 'up' }] },
      { id: 3, type: 'row', title: 'Shut', collapsed: true, gridPos: { x: 0, y: 5, w: 24, h: 1 }, panels: [{ id: 4, type: 'timeseries', title: 'b', gridPos: { x: 0, y: 6, w: 24, h: 8 }, targets: [{ expr: 'up' }] }] },
    ];
    const model = parseDashboard(json, 'x.json');
    expect(model.rows).toEqual([
      { id: 1, title: 'Open', y: 0, collapsed: false },
      { id: 3, title: 'Shut', y: 5, collapsed: true },
    ]);
    expect(model.panels.map((p) => [p.id, p.row])).toEqual([
      [2, 1],
      [4, 3],
    ]);
  });
});

describe('prometheusGraphUrl', () => {
  const expr = 'sum by (job) (rate(x{job=~"a|b", route="/a b&c"}[1m])) + 1';

  it('encodes the expression for the graph page of Prometheus 3, and the classic page of 2.x', () => {
    const url = prometheusGraphUrl('http://127.0.0.1:9090/', expr, { version: '3.1.0' });
    expect(url).toBe(`http://127.0.0.1:9090/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=15m`);
    expect(new URL(url).searchParams.get('g0.expr')).toBe(expr);
    expect(prometheusGraphUrl('http://p:9090', 'up', { version: '2.42.0+ds', range: '1h' })).toBe('http://p:9090/classic/graph?g0.expr=up&g0.tab=0&g0.range_input=1h');
    expect(prometheusGraphUrl('http://p:9090', 'up')).toBe('http://p:9090/graph?g0.expr=up&g0.tab=0&g0.range_input=15m');
  });
});

describe('formatValue and parseLabelValues', () => {
  it('prints the units the dashboards use as Grafana does', () => {
    expect(formatValue(0.25, unitFormat('s'))).toBe('250 ms');
    expect(formatValue(1.5, unitFormat('s'))).toBe('1.5 s');
    expect(formatValue(0.0004, unitFormat('s'))).toBe('400 µs');
    expect(formatValue(120, unitFormat('ms'))).toBe('120 ms');
    expect(formatValue(0.0123, unitFormat('percentunit'))).toBe('1.23%');
    expect(formatValue(0.5, unitFormat('percentunit'), 0)).toBe('50%');
    expect(formatValue(1536, unitFormat('bytes'))).toBe('1.5 KiB');
    expect(formatValue(12.345, unitFormat('reqps'))).toBe('12.3 req/s');
    expect(formatValue(2500, unitFormat('short'))).toBe('2.5 K');
    expect(formatValue(2500, unitFormat('none'))).toBe('2500');
    expect(formatValue(3, unitFormat('widgets'))).toBe('3 widgets');
    expect(formatValue(null, unitFormat('s'))).toBe('no data');
  });

  it('splits label_values() for the label values API', () => {
    expect(parseLabelValues('label_values(http_x{job=~".+"}, instance)')).toEqual({ label: 'instance', match: 'http_x{job=~".+"}' });
    expect(parseLabelValues('label_values(job)')).toEqual({ label: 'job', match: null });
    expect(parseLabelValues('query_result(up)')).toBeNull();
  });
});

// ---- The page's script, inlined alone, against a stand-in DOM and uPlot ----

interface FakeNode {
  tag: string;
  children: FakeNode[];
  textContent: string | null;
  className: string;
  title: string;
  href: string;
  value: string;
  multiple: boolean;
  selected: boolean;
  options: FakeNode[];
  styles: Record<string, string>;
  listeners: Record<string, () => void>;
  [key: string]: unknown;
}

function fakeNode(tag: string): FakeNode {
  const node: FakeNode = {
    tag,
    children: [],
    textContent: null,
    className: '',
    title: '',
    href: '',
    target: '',
    rel: '',
    value: '',
    multiple: false,
    selected: false,
    get options() {
      return node.children;
    },
    style: { cssText: '', setProperty: (name: string, value: string) => (node.styles[name] = value) },
    styles: {},
    listeners: {},
    clientWidth: 600,
    clientHeight: 240,
    append: (...nodes: FakeNode[]) => node.children.push(...nodes),
    replaceChildren: (...nodes: FakeNode[]) => (node.children = nodes),
    querySelector: () => null,
    addEventListener: (type: string, listener: () => void) => (node.listeners[type] = listener),
  };
  return node;
}

function all(node: FakeNode): FakeNode[] {
  return [node, ...node.children.flatMap(all)];
}

class FakePlot {
  static made: FakePlot[] = [];
  static paths = {};
  options: { series: Array<{ label?: string }> };
  data: unknown;
  root = fakeNode('div');
  constructor(options: { series: Array<{ label?: string }> }, data: unknown) {
    this.options = options;
    this.data = data;
    FakePlot.made.push(this);
  }
  setData(data: unknown) {
    this.data = data;
  }
  setSize() {}
  destroy() {}
}

describe('dashboardClientScript', () => {
  const PAGE = ['document', 'uPlot', 'devicePixelRatio', 'getComputedStyle', 'addEventListener', 'removeEventListener'];
  const page = (): void => {
    Object.assign(globalThis, {
      document: { createElement: fakeNode },
      uPlot: FakePlot,
      devicePixelRatio: 1,
      getComputedStyle: () => ({ getPropertyValue: () => '' }),
      addEventListener: () => {},
      removeEventListener: () => {},
    });
  };
  afterEach(() => {
    for (const name of PAGE) delete (globalThis as Record<string, unknown>)[name];
    FakePlot.made = [];
  });

  it('defines the helpers and drawDashboard with nothing from module scope', () => {
    const inlined = new Function(`${dashboardClientScript()}\nreturn { interpolateExpr, formatValue, prometheusGraphUrl, drawDashboard };`)() as Record<string, (...args: unknown[]) => unknown>;
    expect(inlined.interpolateExpr?.('rate(x[$__rate_interval])', [], {}, TIME)).toBe('rate(x[60s])');
    expect(inlined.formatValue?.(0.5, unitFormat('percentunit'))).toBe('50%');
    expect(typeof inlined.drawDashboard).toBe('function');
  });

  it('draws a dashboard: variables from labelValues, stats, time series with legends, links for the rest', async () => {
    const inlined = new Function(`${dashboardClientScript()}\nreturn drawDashboard;`)() as (model: DashboardModel, container: unknown, io: DashboardIo, options: DrawOptions) => DashboardView;
    page();
    const queried: string[] = [];
    const labelQueries: string[] = [];
    const io: DashboardIo = {
      query: async (expr, start, end, step) => {
        queried.push(expr);
        const series: MatrixSeries = { metric: { job: 'checkout', http_route: '/checkout', instance: 'checkout-1' }, values: [] };
        for (let t = start / 1000; t <= end / 1000; t += step / 1000) series.values.push([t, '0.02']);
        return { status: 'success', data: { resultType: 'matrix', result: [series] } } as unknown as { data: { result: MatrixSeries[] } };
      },
      labelValues: async (query) => {
        labelQueries.push(query);
        return ['checkout', 'catalog'];
      },
    };
    const model = dashboards.find((d) => d.title === 'Faultline / Service overview') as DashboardModel;
    const container = fakeNode('div');
    const view = inlined(model, container, io, { prometheusUrl: 'http://p:9090', prometheusVersion: '2.42.0+ds', scrapeIntervalSeconds: 1, rangeSeconds: 900 });
    await view.ready;

    expect(labelQueries).toContain('label_values(http_server_request_duration_seconds_count{job=~".+"}, instance)');
    const selects = all(container).filter((n) => n.tag === 'select');
    expect(selects).toHaveLength(3);
    expect(selects[0]?.options.map((o) => [o.textContent, o.selected])).toEqual([
      ['All', true],
      ['catalog', false],
      ['checkout', false],
    ]);
    expect(queried.every((expr) => !expr.includes('$'))).toBe(true);

    const stats = all(container).filter((n) => n.className === 'fl-stat-value');
    // Request rate, server error ratio (2 decimals), p95 and p99 latency, each coloured by its thresholds.
    expect(stats.map((n) => n.textContent)).toEqual(['0.02 req/s', '2.00%', '20 ms', '20 ms']);
    const ratio = model.panels.find((p) => p.title === 'Server error ratio');
    const expected = ratio?.thresholds.steps.filter((step) => step.value === null || step.value <= 0.02).at(-1)?.color;
    expect(stats[1]?.styles.color).toBe(expected);
    const drawn = model.panels.filter((p) => p.drawAs === 'timeseries');
    expect(FakePlot.made).toHaveLength(drawn.length);
    expect(FakePlot.made.find((p) => p.options.series[1]?.label === 'checkout')).toBeDefined();

    // A variable picked: the ones below it are asked again with it, then every panel is.
    const service = selects[0] as FakeNode;
    for (const option of service.options) option.selected = option.value === 'checkout';
    queried.length = 0;
    service.listeners.change?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await view.refresh();
    expect(view.selection().service).toEqual(['checkout']);
    expect(labelQueries).toContain('label_values(http_server_request_duration_seconds_count{job=~"checkout"}, instance)');
    expect(queried.some((expr) => expr.includes('job=~"checkout"'))).toBe(true);
    expect(FakePlot.made).toHaveLength(drawn.length);
    view.destroy();
  });

  it('links a panel it does not draw to the classic graph page of Prometheus 2.x', async () => {
    const inlined = new Function(`${dashboardClientScript()}\nreturn drawDashboard;`)() as (model: DashboardModel, container: unknown, io: DashboardIo, options: DrawOptions) => DashboardView;
    page();
    const model = dashboards.find((d) => d.uid.includes('chaos')) as DashboardModel;
    const container = fakeNode('div');
    const view = inlined(model, container, { query: async () => [], labelValues: async () => [] }, { prometheusUrl: 'http://p:9090', prometheusVersion: '2.42.0+ds' });
    await view.ready;
    const links = all(container).filter((n) => n.className === 'fl-prometheus-link');
    expect(links.length).toBeGreaterThan(0);
    expect(links[0]?.href).toBe(prometheusGraphUrl('http://p:9090', 'max by (fault, target, job) (chaos_fault_active) == 1', { version: '2.42.0+ds', range: '30m' }));
    expect(all(container).some((n) => n.className === 'fl-reason' && n.textContent === 'Not drawn here: tables are not drawn in the console.')).toBe(true);
    expect(all(container).filter((n) => n.className === 'fl-empty').length).toBeGreaterThan(0);
    view.destroy();
  });

  it('says in the panel when its query fails', async () => {
    const inlined = new Function(`${dashboardClientScript()}\nreturn drawDashboard;`)() as (model: DashboardModel, container: unknown, io: DashboardIo, options: DrawOptions) => DashboardView;
    page();
    const model = dashboards.find((d) => d.title === 'Faultline / Service overview') as DashboardModel;
    const container = fakeNode('div');
    const failing: DashboardIo = { query: async () => ({ status: 'error', error: 'bad_data: parse error' }) as never, labelValues: async () => Promise.reject(new Error('down')) };
    const view = inlined(model, container, failing, { prometheusUrl: 'http://p:9090' });
    await view.ready;
    const errors = all(container).filter((n) => n.className === 'fl-error');
    expect(errors).toHaveLength(model.panels.filter((p) => p.drawable).length);
    expect(errors[0]?.textContent).toBe('query failed: bad_data: parse error');
    view.destroy();
    expect(container.children).toEqual([]);
  });
});

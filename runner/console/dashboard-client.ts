// The console page's drawing of one prebuilt dashboard from its model
// (dashboard-model.ts): variable dropdowns, the panels on Grafana's 24-column
// grid, time series with uPlot, stat values coloured by thresholds, and for
// a panel it does not draw, the reason and links to Prometheus' graph page.
// drawDashboard is inlined in the page as source (dashboardClientScript), so
// it uses nothing from this module's scope: the model's browser-side helpers
// come in as its last argument. The browser's types are declared here, as
// little as it uses, so the project's type check stays without the DOM library.

import { formatValue, interpolateExpr, prometheusGraphUrl, type DashboardModel, type PanelModel, type QueryTime, type VariableModel } from './dashboard-model.ts';

/** One series of a Prometheus range query's matrix: values are [unix seconds, "value"]. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** The matrix itself, the `data` of a query_range answer, or the whole answer. */
export type RangeResult = MatrixSeries[] | { result: MatrixSeries[] } | { data: { result: MatrixSeries[] } };

export interface DashboardIo {
  /** A Prometheus range query; times in milliseconds since the epoch, as the console's /api/prometheus/query_range takes them. */
  query(expr: string, startMs: number, endMs: number, stepMs: number): Promise<RangeResult>;
  /** A query variable's values, for its query with the variables above it filled in (`label_values(up{job=~"a"}, instance)`). */
  labelValues(query: string): Promise<string[]>;
}

export interface DrawOptions {
  /** Where the links to Prometheus' graph page go (the browser's view of it). */
  prometheusUrl: string;
  /** Prometheus' version (`2.42.0+ds`): 2.x links to the classic UI. */
  prometheusVersion?: string;
  /** Default: the dashboard's time range. */
  rangeSeconds?: number;
  /** Default: the range over about 240 points, never under the scrape interval. */
  stepSeconds?: number;
  /** For $__rate_interval; default 15 (Grafana's). The lab scrapes every second. */
  scrapeIntervalSeconds?: number;
  /** Initial variable values, over the dashboard's defaults (`{ service: ['checkout'] }`, `['$__all']` for All). */
  selection?: Record<string, string[]>;
}

/** The model's functions the drawing uses, passed in since the drawing is inlined alone. */
export interface DashboardHelpers {
  interpolateExpr: typeof interpolateExpr;
  formatValue: typeof formatValue;
  prometheusGraphUrl: typeof prometheusGraphUrl;
}

export interface DashboardView {
  /** Settles when the variables are loaded and every panel drawn once. */
  ready: Promise<void>;
  /** Query every panel again (a refresh already running is followed by one more). */
  refresh(): Promise<void>;
  /** The variables' values now. */
  selection(): Record<string, string[]>;
  destroy(): void;
}

interface Element2d {
  textContent: string | null;
  className: string;
  title: string;
  href: string;
  target: string;
  rel: string;
  value: string;
  multiple: boolean;
  selected: boolean;
  options: ArrayLike<Element2d>;
  style: { cssText: string; setProperty(name: string, value: string): void };
  clientWidth: number;
  clientHeight: number;
  append(...nodes: Element2d[]): void;
  replaceChildren(...nodes: Element2d[]): void;
  querySelector(selector: string): Element2d | null;
  addEventListener(type: string, listener: () => void): void;
}
interface Context2d {
  save(): void;
  restore(): void;
  strokeStyle: string;
  lineWidth: number;
  setLineDash(segments: number[]): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  stroke(): void;
}
interface PlotInstance {
  ctx: Context2d;
  root: Element2d;
  bbox: { left: number; top: number; width: number; height: number };
  valToPos(value: number, scale: string, canvasPixels?: boolean): number;
  setData(data: unknown): void;
  setSize(size: { width: number; height: number }): void;
  destroy(): void;
}
interface PlotConstructor {
  new (options: unknown, data: unknown, target: Element2d): PlotInstance;
  paths: { bars?: (options: { size: [number, number] }) => unknown };
}
interface PageGlobals {
  document: { createElement(tag: string): Element2d };
  uPlot: PlotConstructor;
  devicePixelRatio: number;
  getComputedStyle(element: Element2d): { getPropertyValue(name: string): string };
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  setTimeout(callback: () => void, ms: number): number;
  clearTimeout(id: number): void;
}

/** Draw `model` into `container` and keep it live: `refresh()` re-queries (the console calls it every few seconds). */
export function drawDashboard(model: DashboardModel, container: Element2d, io: DashboardIo, options: DrawOptions, lib: DashboardHelpers): DashboardView {
  const page = globalThis as unknown as PageGlobals;
  const ALL = '$__all';
  // Grafana's classic palette, one colour per series in order.
  const PALETTE = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A6', '#705DA0', '#508642', '#CCA300', '#447EBC', '#C15C17'];
  const el = (tag: string, className: string, text?: string): Element2d => {
    const node = page.document.createElement(tag);
    node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

  const rangeSeconds = options.rangeSeconds ?? model.rangeSeconds;
  const scrape = options.scrapeIntervalSeconds ?? 15;
  const step = options.stepSeconds ?? Math.max(scrape, Math.ceil(rangeSeconds / 240));
  const time: QueryTime = { stepSeconds: step, rangeSeconds, scrapeIntervalSeconds: scrape };
  const rangeText = rangeSeconds % 3600 === 0 ? `${rangeSeconds / 3600}h` : rangeSeconds % 60 === 0 ? `${rangeSeconds / 60}m` : `${rangeSeconds}s`;
  const selected: Record<string, string[]> = {};
  const known: Record<string, string[]> = {};
  for (const variable of model.variables) {
    selected[variable.name] = [...(options.selection?.[variable.name] ?? variable.current)];
    known[variable.name] = [...variable.options];
  }
  const fill = (expr: string): string => lib.interpolateExpr(expr, model.variables, selected, time);
  let destroyed = false;

  // ---- Layout: the variables' bar, then rows and panels on the grid (rows of 30 px, as Grafana's) ----
  const root = el('div', 'fl-dashboard');
  const bar = el('div', 'fl-variables');
  const grid = el('div', 'fl-grid');
  grid.style.cssText = 'display:grid;grid-template-columns:repeat(24,minmax(0,1fr));grid-auto-rows:30px;gap:8px;';
  root.append(bar, grid);
  container.replaceChildren(root);
  const place = (node: Element2d, x: number, y: number, w: number, h: number): void => {
    node.style.cssText = `grid-column:${x + 1} / span ${w};grid-row:${y + 1} / span ${h};min-width:0;min-height:0;display:flex;flex-direction:column;overflow:hidden;`;
  };
  // A collapsed row is drawn as its header alone, as Grafana first shows it.
  const collapsed = new Set(model.rows.filter((row) => row.collapsed).map((row) => row.id));
  for (const row of model.rows) {
    const header = el('h3', 'fl-row', row.collapsed ? `${row.title} (collapsed in Grafana: its panels are not drawn)` : row.title);
    place(header, 0, row.y, 24, 1);
    grid.append(header);
  }

  interface View {
    panel: PanelModel;
    body: Element2d;
    plot: PlotInstance | null;
    /** The series labels the plot was made for: the same labels update it in place. */
    key: string;
    /** Each series' own values (the plot holds running sums when stacked). */
    raw: Array<Array<number | null>>;
  }
  const views: View[] = model.panels.filter((panel) => panel.row === null || !collapsed.has(panel.row)).map((panel) => {
    const box = el('section', `fl-panel fl-panel-${panel.drawAs ?? 'unsupported'}`);
    place(box, panel.gridPos.x, panel.gridPos.y, panel.gridPos.w, panel.gridPos.h);
    const title = el('header', 'fl-panel-title', panel.title);
    title.title = panel.description;
    const body = el('div', 'fl-panel-body');
    body.style.cssText = 'flex:1;min-height:0;position:relative;overflow:auto;';
    if (panel.drawAs === 'text') {
      const text = el('div', 'fl-text', panel.text ?? '');
      text.style.cssText = 'white-space:pre-wrap;';
      body.append(text);
    }
    box.append(title, body);
    grid.append(box);
    return { panel, body, plot: null, key: '', raw: [] };
  });

  // ---- Variables ----
  const selects: Record<string, Element2d> = {};
  const fillSelect = (variable: VariableModel): void => {
    const select = selects[variable.name];
    if (!select) return;
    const values = [...(variable.includeAll ? [ALL] : []), ...(known[variable.name] ?? [])];
    select.replaceChildren(
      ...values.map((value) => {
        const option = el('option', '', value === ALL ? 'All' : value);
        option.value = value;
        option.selected = (selected[variable.name] ?? []).includes(value);
        return option;
      }),
    );
  };
  // Keep only values still offered; with none left, All (multi) or the first value, as Grafana does.
  const settle = (variable: VariableModel): void => {
    const offered = known[variable.name] ?? [];
    const kept = (selected[variable.name] ?? []).filter((value) => (value === ALL ? variable.includeAll : offered.includes(value)));
    selected[variable.name] = kept.length > 0 ? kept : variable.includeAll && variable.multi ? [ALL] : offered.slice(0, 1);
  };
  // In order, so a variable's query sees the values of those above it.
  const loadVariables = async (from: number): Promise<void> => {
    for (const variable of model.variables.slice(from)) {
      if (variable.type === 'query') {
        try {
          known[variable.name] = [...new Set(await io.labelValues(fill(variable.query)))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
        } catch {
          known[variable.name] = [];
        }
      }
      if (destroyed) return;
      settle(variable);
      fillSelect(variable);
    }
  };
  model.variables.forEach((variable, index) => {
    if (variable.hidden) return;
    const label = el('label', 'fl-variable', variable.label);
    const select = el('select', '');
    select.multiple = variable.multi;
    select.addEventListener('change', () => {
      let chosen = Array.from(select.options)
        .filter((option) => option.selected)
        .map((option) => option.value);
      // Picking All clears the other values; picking a value clears All.
      if (chosen.length > 1 && chosen.includes(ALL)) chosen = (selected[variable.name] ?? []).includes(ALL) ? chosen.filter((v) => v !== ALL) : [ALL];
      selected[variable.name] = chosen;
      void loadVariables(index + 1).then(refresh);
    });
    label.append(select);
    bar.append(label);
    selects[variable.name] = select;
  });

  // ---- Panels ----
  const css = (name: string, fallback: string): string => page.getComputedStyle(container).getPropertyValue(name).trim() || fallback;
  const legend = (format: string, metric: Record<string, string>, expr: string): string => {
    if (format !== '' && format !== '__auto') return format.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_match, name: string) => metric[name] ?? '');
    const labels = Object.entries(metric)
      .filter(([name]) => name !== '__name__')
      .map(([name, value]) => `${name}="${value}"`)
      .join(', ');
    const text = `${metric.__name__ ?? ''}${labels ? `{${labels}}` : ''}`;
    return text || expr;
  };
  const thresholdValue = (panel: PanelModel, value: number): number => {
    if (panel.thresholds.mode === 'absolute') return value;
    const min = panel.min ?? 0;
    return min + (((panel.max ?? 100) - min) * value) / 100;
  };
  const colorFor = (panel: PanelModel, value: number): string => {
    let color = '';
    for (const step of panel.thresholds.steps) if (step.value === null || value >= thresholdValue(panel, step.value)) color = step.color;
    return color;
  };
  const reduce = (calc: PanelModel['reduce'], values: Array<number | null>): number | null => {
    const present = values.filter((v): v is number => v !== null);
    if (calc === 'last' || calc === 'first') return (calc === 'last' ? values[values.length - 1] : values[0]) ?? null;
    if (calc === 'count') return present.length;
    if (present.length === 0) return null;
    const first = present[0] as number;
    const last = present[present.length - 1] as number;
    const sum = present.reduce((a, b) => a + b, 0);
    const min = Math.min(...present);
    const max = Math.max(...present);
    const reduced: Record<string, number> = { lastNotNull: last, firstNotNull: first, mean: sum / present.length, sum, min, max, range: max - min, diff: last - first };
    return reduced[calc ?? 'lastNotNull'] ?? last;
  };

  interface PanelData {
    x: number[];
    series: Array<{ label: string; values: Array<number | null> }>;
  }
  const fetchPanel = async (panel: PanelModel, start: number, end: number): Promise<PanelData> => {
    const x: number[] = [];
    for (let t = start; t <= end; t += step) x.push(t);
    const answers = await Promise.all(
      panel.targets.map(async (target) => {
        const expr = fill(target.expr);
        const answer = await io.query(expr, start * 1000, end * 1000, step * 1000);
        const matrix = Array.isArray(answer) ? answer : 'data' in answer ? answer.data?.result : answer.result;
        if (!Array.isArray(matrix)) throw new Error((answer as { error?: string }).error ?? 'the answer is not a matrix');
        return { target, expr, matrix };
      }),
    );
    const series: PanelData['series'] = [];
    for (const { target, expr, matrix } of answers) {
      for (const one of matrix) {
        const values: Array<number | null> = x.map(() => null);
        for (const [t, v] of one.values) {
          const index = Math.round((t - start) / step);
          const value = Number(v);
          if (index >= 0 && index < x.length && Number.isFinite(value)) values[index] = value;
        }
        series.push({ label: legend(target.legendFormat, one.metric, expr), values });
      }
    }
    return { x, series };
  };

  const plotSize = (view: View): { width: number; height: number } => {
    const legendBox = view.plot?.root.querySelector('.u-legend');
    return { width: Math.max(120, view.body.clientWidth), height: Math.max(60, view.body.clientHeight - (legendBox?.clientHeight ?? 0) - 4) };
  };
  const clear = (view: View, node: Element2d): void => {
    view.plot?.destroy();
    view.plot = null;
    view.key = '';
    view.body.replaceChildren(node);
  };

  const drawSeries = (view: View, data: PanelData): void => {
    const { panel } = view;
    view.raw = data.series.map((s) => s.values);
    if (data.series.length === 0) return clear(view, el('div', 'fl-empty', 'no data'));
    let values = view.raw;
    if (panel.stacked) {
      const sums = data.x.map(() => 0);
      values = view.raw.map((series) => series.map((v, i) => (sums[i] = (sums[i] ?? 0) + (v ?? 0))));
    }
    const key = data.series.map((s) => s.label).join('\n');
    if (view.plot && view.key === key) return view.plot.setData([data.x, ...values]);
    view.plot?.destroy();
    view.body.replaceChildren();
    const format = (v: number | null): string => lib.formatValue(v, panel.format, panel.decimals);
    const axisColor = css('--axis', '#8e8e8e');
    const gridColor = css('--grid', 'rgba(128,128,128,0.2)');
    const alpha = Math.round((panel.fillOpacity / 100) * 255)
      .toString(16)
      .padStart(2, '0');
    const bars = panel.bars ? page.uPlot.paths.bars?.({ size: [0.6, 100] }) : undefined;
    const lines = panel.thresholdLines ? panel.thresholds.steps.filter((s) => s.value !== null && s.color !== 'transparent') : [];
    const options = {
      width: Math.max(120, view.body.clientWidth),
      height: Math.max(60, view.body.clientHeight - 40),
      scales: {
        x: { time: true },
        y: {
          range: (_u: unknown, dataMin: number | null, dataMax: number | null): [number, number] => {
            const low = panel.min ?? Math.min(dataMin ?? 0, panel.softMin ?? dataMin ?? 0);
            const top = Math.max(dataMax ?? low + 1, panel.softMax ?? dataMax ?? low + 1);
            const high = panel.max ?? (top > low ? top + (top - low) * 0.05 : low + 1);
            return [low, high];
          },
        },
      },
      axes: [
        { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor } },
        { stroke: axisColor, grid: { stroke: gridColor }, ticks: { stroke: gridColor }, size: 72, values: (_u: unknown, splits: number[]) => splits.map(format) },
      ],
      series: [
        {},
        ...data.series.map((series, index) => {
          const color = PALETTE[index % PALETTE.length] as string;
          return {
            label: series.label,
            stroke: color,
            width: 1.5,
            ...(panel.fillOpacity > 0 ? { fill: `${color}${alpha}` } : {}),
            ...(bars ? { paths: bars } : {}),
            points: { show: false },
            // The series' own value, also when the plot holds running sums.
            value: (_u: unknown, _v: number | null, seriesIndex: number, at: number | null) => (at === null ? '--' : format(view.raw[seriesIndex - 1]?.[at] ?? null)),
          };
        }),
      ],
      // Stacked: each series fills down to the one below it.
      ...(panel.stacked ? { bands: data.series.slice(1).map((_s, index) => ({ series: [index + 2, index + 1] })) } : {}),
      plugins: [
        {
          hooks: {
            draw: [
              (u: PlotInstance) => {
                const { ctx, bbox } = u;
                const ratio = page.devicePixelRatio || 1;
                ctx.save();
                ctx.lineWidth = ratio;
                ctx.setLineDash([6 * ratio, 4 * ratio]);
                for (const step of lines) {
                  const y = u.valToPos(thresholdValue(panel, step.value as number), 'y', true);
                  if (y < bbox.top || y > bbox.top + bbox.height) continue;
                  ctx.strokeStyle = step.color;
                  ctx.beginPath();
                  ctx.moveTo(bbox.left, y);
                  ctx.lineTo(bbox.left + bbox.width, y);
                  ctx.stroke();
                }
                ctx.restore();
              },
            ],
          },
        },
      ],
    };
    view.plot = new page.uPlot(options, [data.x, ...values], view.body);
    view.key = key;
    // The legend's height is known once drawn: the chart takes the rest.
    view.plot.setSize(plotSize(view));
  };

  const drawStat = (view: View, data: PanelData): void => {
    const { panel } = view;
    if (data.series.length === 0) return clear(view, el('div', 'fl-empty', 'no data'));
    const cells = data.series.map((series) => {
      const value = reduce(panel.reduce, series.values);
      const cell = el('div', 'fl-stat');
      const text = el('div', 'fl-stat-value', lib.formatValue(value, panel.format, panel.decimals));
      const color = value === null ? '' : colorFor(panel, value);
      if (color !== '' && panel.colorMode === 'value') text.style.setProperty('color', color);
      if (color !== '' && panel.colorMode === 'background') cell.style.setProperty('background', color);
      const size = Math.max(14, Math.min(48, view.body.clientHeight / (data.series.length * 1.8)));
      text.style.setProperty('font-size', `${Math.round(size)}px`);
      cell.append(text);
      if (data.series.length > 1) cell.append(el('div', 'fl-stat-name', series.label));
      return cell;
    });
    view.body.replaceChildren(...cells);
  };

  const drawUnsupported = (view: View): void => {
    const { panel } = view;
    const links = panel.targets.map((target) => {
      const expr = fill(target.expr);
      const link = el('a', 'fl-prometheus-link', `Open ${target.legendFormat || target.refId} in Prometheus`);
      link.href = lib.prometheusGraphUrl(options.prometheusUrl, expr, { version: options.prometheusVersion, range: rangeText });
      link.target = '_blank';
      link.rel = 'noopener';
      link.title = expr;
      return link;
    });
    view.body.replaceChildren(el('p', 'fl-reason', `Not drawn here: ${panel.reason ?? 'not supported'}.`), ...links);
  };

  const drawAll = async (): Promise<void> => {
    const end = Math.floor(Date.now() / 1000 / step) * step;
    const start = end - Math.floor(rangeSeconds / step) * step;
    await Promise.all(
      views.map(async (view) => {
        const { panel } = view;
        if (panel.drawAs === 'text') return;
        if (panel.drawAs === null) return drawUnsupported(view);
        try {
          const data = await fetchPanel(panel, start, end);
          if (destroyed) return;
          if (panel.drawAs === 'stat') drawStat(view, data);
          else drawSeries(view, data);
        } catch (error) {
          if (!destroyed) clear(view, el('div', 'fl-error', `query failed: ${message(error)}`));
        }
      }),
    );
  };

  let running: Promise<void> | null = null;
  let again = false;
  const refresh = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await drawAll();
      } while (again && !destroyed);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  let pending = 0;
  const onResize = (): void => {
    page.clearTimeout(pending);
    pending = page.setTimeout(() => {
      for (const view of views) view.plot?.setSize(plotSize(view));
    }, 150);
  };
  page.addEventListener('resize', onResize);

  const ready = loadVariables(0).then(refresh);
  return {
    ready,
    refresh,
    selection: () => Object.fromEntries(Object.entries(selected).map(([name, values]) => [name, [...values]])),
    destroy: () => {
      destroyed = true;
      page.removeEventListener('resize', onResize);
      page.clearTimeout(pending);
      for (const view of views) view.plot?.destroy();
      container.replaceChildren();
    },
  };
}

/**
 * The page's script, to inline after uPlot: the model's browser-side helpers
 * and a global `drawDashboard(model, container, io, options)` that passes them in.
 */
export function dashboardClientScript(): string {
  return [
    interpolateExpr.toString(),
    formatValue.toString(),
    prometheusGraphUrl.toString(),
    `function drawDashboard(model, container, io, options) {\n  return (${drawDashboard.toString()})(model, container, io, options, { interpolateExpr, formatValue, prometheusGraphUrl });\n}`,
  ].join('\n');
}

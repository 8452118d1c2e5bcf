// The prebuilt Grafana dashboards, read from their own JSON into a plain model
// the console's page can draw against the lab's Prometheus, so what a team
// loads into Grafana is what the console shows live. Only the parts drawn are
// read (and checked, naming the file and path of a bad field): variables,
// rows, time series, stat and text panels with their queries, units and
// thresholds. Any other panel stays in the model, marked not drawable with a
// reason, for the page to link to Prometheus' graph page instead.
// interpolateExpr, formatValue and prometheusGraphUrl also run in the browser:
// dashboard-client.ts inlines their source, so each uses nothing from this
// module's scope (only its types, which vanish).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { FaultlineError } from '../errors.ts';

export class DashboardModelError extends FaultlineError {
  constructor(message: string) {
    super('FL_DASHBOARD_INVALID', message);
    this.name = 'DashboardModelError';
  }
}

// ---- The model ----

export type VariableType = 'query' | 'custom' | 'interval' | 'constant' | 'datasource' | 'textbox';

/** What a variable's `$__all` value stands for when the dashboard sets no allValue. */
export const ALL = '$__all';

export interface VariableModel {
  name: string;
  label: string;
  type: VariableType;
  /** query: `label_values(selector, label)`; custom and interval: a comma list; constant and textbox: the value; datasource: the plugin type. */
  query: string;
  /** Values known without asking Prometheus (custom, interval, constant, textbox). */
  options: string[];
  /** The values selected by default; [`$__all`] for All, [] for the first option once known. */
  current: string[];
  multi: boolean;
  includeAll: boolean;
  /** What All becomes in a query; null: `.*`. */
  allValue: string | null;
  /** Not shown as a dropdown (Grafana's hide: 2, and datasource variables: the console has one Prometheus). */
  hidden: boolean;
}

export interface RowModel {
  id: number;
  title: string;
  /** Grid row of the row's header. */
  y: number;
  collapsed: boolean;
}

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface TargetModel {
  refId: string;
  expr: string;
  /** `{{label}}` placeholders; '' for the series' labels. */
  legendFormat: string;
}

/** How a unit prints: the browser's formatValue reads this. */
export type UnitFormat =
  | { kind: 'number'; suffix: string; scaled: boolean }
  | { kind: 'percent'; factor: number }
  | { kind: 'duration'; toSeconds: number }
  | { kind: 'bytes'; base: 1000 | 1024; toBytes: number; suffix: string };

export interface ThresholdStep {
  /** null: the base colour, below every other step. */
  value: number | null;
  /** A CSS colour (Grafana's named colours resolved). */
  color: string;
}

export const REDUCE_CALCS = ['lastNotNull', 'last', 'firstNotNull', 'first', 'mean', 'max', 'min', 'sum', 'count', 'range', 'diff'] as const;
export type ReduceCalc = (typeof REDUCE_CALCS)[number];

export interface PanelModel {
  id: number;
  title: string;
  description: string;
  /** The panel type in the JSON (timeseries, stat, table...). */
  type: string;
  /** How the console draws it; null when it does not. */
  drawAs: 'timeseries' | 'stat' | 'text' | null;
  drawable: boolean;
  /** Why it is not drawn, for the page to say beside the link to Prometheus. */
  reason: string | null;
  gridPos: GridPos;
  /** The id of the row above it, or null. */
  row: number | null;
  targets: TargetModel[];
  /** Grafana's unit id, and how it prints. */
  unit: string;
  format: UnitFormat;
  min: number | null;
  max: number | null;
  decimals: number | null;
  thresholds: { mode: 'absolute' | 'percentage'; steps: ThresholdStep[] };
  /** Time series: draw each threshold as a dashed line (unless the JSON's thresholdsStyle says off). */
  thresholdLines: boolean;
  /** Stat: the value each series is reduced to. */
  reduce: ReduceCalc | null;
  /** Stat: colour the value or its background by the thresholds. */
  colorMode: 'value' | 'background' | 'none';
  stacked: boolean;
  bars: boolean;
  /** 0-100, as Grafana's fillOpacity. */
  fillOpacity: number;
  softMin: number | null;
  softMax: number | null;
  /** Text panels: the content, shown as plain text (markdown is not rendered). */
  text: string | null;
}

export interface DashboardModel {
  uid: string;
  title: string;
  /** The file it was read from. */
  file: string;
  /** The default time range, from `time.from` (now-30m: 1800). */
  rangeSeconds: number;
  /** Grafana's auto-refresh, in seconds; null when off. */
  refreshSeconds: number | null;
  variables: VariableModel[];
  rows: RowModel[];
  /** Every panel but rows, top to bottom, left to right. */
  panels: PanelModel[];
}

export interface DashboardSummary {
  uid: string;
  title: string;
}

// ---- The JSON, as far as the model reads it ----

const nullableNumber = z.number().nullable().optional();
const datasourceRef = z.union([z.string(), z.looseObject({ type: z.string().optional(), uid: z.string().optional() })]).nullable().optional();

const panelFields = {
  id: z.number().int(),
  type: z.string().min(1),
  title: z.string().optional(),
  description: z.string().optional(),
  gridPos: z.looseObject({ x: z.number().int().min(0).max(23), y: z.number().int().min(0), w: z.number().int().min(1).max(24), h: z.number().int().min(1) }),
  datasource: datasourceRef,
  targets: z
    .array(
      z.looseObject({
        refId: z.string().optional(),
        expr: z.string().optional(),
        legendFormat: z.string().optional(),
        hide: z.boolean().optional(),
        datasource: datasourceRef,
      }),
    )
    .optional(),
  fieldConfig: z
    .looseObject({
      defaults: z
        .looseObject({
          unit: z.string().optional(),
          min: nullableNumber,
          max: nullableNumber,
          decimals: z.number().int().min(0).max(20).nullable().optional(),
          thresholds: z
            .looseObject({
              mode: z.enum(['absolute', 'percentage']),
              steps: z.array(z.looseObject({ color: z.string(), value: z.number().nullable().optional() })),
            })
            .optional(),
          custom: z
            .looseObject({
              drawStyle: z.string().optional(),
              fillOpacity: z.number().min(0).max(100).optional(),
              stacking: z.looseObject({ mode: z.string() }).optional(),
              axisSoftMin: nullableNumber,
              axisSoftMax: nullableNumber,
              thresholdsStyle: z.looseObject({ mode: z.string() }).optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  options: z
    .looseObject({
      reduceOptions: z.looseObject({ calcs: z.array(z.string()) }).optional(),
      colorMode: z.string().optional(),
      content: z.string().optional(),
    })
    .optional(),
};

const innerPanelSchema = z.looseObject(panelFields);
// Rows hold their panels when collapsed; rows do not nest.
const panelSchema = innerPanelSchema.extend({ collapsed: z.boolean().optional(), panels: z.array(innerPanelSchema).optional() });
type PanelJson = z.infer<typeof innerPanelSchema>;

const variableSchema = z.looseObject({
  name: z.string().regex(/^\w+$/, { error: 'must be letters, digits and _' }),
  label: z.string().nullable().optional(),
  type: z.enum(['query', 'custom', 'interval', 'constant', 'datasource', 'textbox']),
  query: z.union([z.string(), z.looseObject({ query: z.string().optional() })]).optional(),
  definition: z.string().optional(),
  current: z.looseObject({ value: z.union([z.string(), z.array(z.string())]).optional() }).optional(),
  options: z.array(z.looseObject({ value: z.string() })).optional(),
  multi: z.boolean().optional(),
  includeAll: z.boolean().optional(),
  allValue: z.string().nullable().optional(),
  hide: z.number().int().optional(),
});
type VariableJson = z.infer<typeof variableSchema>;

const dashboardSchema = z.looseObject({
  uid: z.string().min(1),
  title: z.string().min(1),
  panels: z.array(panelSchema).optional(),
  templating: z.looseObject({ list: z.array(variableSchema) }).optional(),
  time: z.looseObject({ from: z.string() }).optional(),
  refresh: z.union([z.string(), z.literal(false)]).optional(),
});

// ---- Reading ----

/** `panels[3].gridPos.w`, from zod's path. */
function pathText(path: readonly PropertyKey[]): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('') || '(dashboard)';
}

/** The model of one dashboard's JSON (parsed); `file` names it in errors, every bad field at once. */
export function parseDashboard(json: unknown, file: string): DashboardModel {
  const result = dashboardSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${pathText(issue.path)}: ${issue.message}`);
    throw new DashboardModelError(`${file}: ${problems.join('; ')}`);
  }
  const dashboard = result.data;
  const variables = (dashboard.templating?.list ?? []).map(variableModel);
  const rows: RowModel[] = [];
  const panels: PanelModel[] = [];
  const sorted = [...(dashboard.panels ?? [])].sort(byPosition);
  let row: number | null = null;
  for (const panel of sorted) {
    if (panel.type === 'row') {
      rows.push({ id: panel.id, title: panel.title ?? '', y: panel.gridPos.y, collapsed: panel.collapsed ?? false });
      row = panel.id;
      // A collapsed row keeps its panels inside it (the page leaves them undrawn, as Grafana first does).
      for (const inner of [...(panel.panels ?? [])].sort(byPosition)) panels.push(panelModel(inner, panel.id, variables));
      continue;
    }
    panels.push(panelModel(panel, row, variables));
  }
  return {
    uid: dashboard.uid,
    title: dashboard.title,
    file,
    rangeSeconds: durationSeconds(/^now-(\w+)$/.exec(dashboard.time?.from ?? '')?.[1] ?? '') ?? 1800,
    refreshSeconds: typeof dashboard.refresh === 'string' ? durationSeconds(dashboard.refresh) : null,
    variables,
    rows,
    panels,
  };
}

/** Every dashboard JSON in a folder, by file name. */
export async function loadDashboards(dir: string): Promise<DashboardModel[]> {
  const files = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(files.map((name) => readDashboard(join(dir, name))));
}

export async function readDashboard(file: string): Promise<DashboardModel> {
  const text = await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DashboardModelError(`${file}: not JSON: ${(error as Error).message}`);
  }
  return parseDashboard(json, file);
}

export function dashboardList(dashboards: readonly DashboardModel[]): DashboardSummary[] {
  return dashboards.map(({ uid, title }) => ({ uid, title }));
}

function byPosition(a: { gridPos: GridPos }, b: { gridPos: GridPos }): number {
  return a.gridPos.y - b.gridPos.y || a.gridPos.x - b.gridPos.x;
}

/** `30m` → 1800; null for what is not a Grafana duration. */
function durationSeconds(text: string): number | null {
  const match = /^(\d+)(ms|s|m|h|d|w)$/.exec(text);
  if (!match) return null;
  const per = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[match[2] as 'ms'];
  return Number(match[1]) * per;
}

function variableModel(variable: VariableJson): VariableModel {
  const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? variable.definition ?? '');
  const value = variable.current?.value;
  const current = value === undefined ? [] : Array.isArray(value) ? value : [value];
  const listed = variable.options?.map((option) => option.value).filter((option) => option !== ALL) ?? [];
  const fromQuery = query
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const options = variable.type === 'custom' || variable.type === 'interval' ? (fromQuery.length > 0 ? fromQuery : listed) : variable.type === 'constant' || variable.type === 'textbox' ? [query] : [];
  return {
    name: variable.name,
    label: variable.label || variable.name,
    type: variable.type,
    query,
    options,
    current: current.length > 0 ? current : variable.type === 'constant' || variable.type === 'textbox' ? [query] : [],
    multi: variable.multi ?? false,
    includeAll: variable.includeAll ?? false,
    allValue: variable.allValue || null,
    hidden: variable.hide === 2 || variable.type === 'datasource' || variable.type === 'constant',
  };
}

/** Why each panel type the console does not draw is left to Prometheus' graph page. */
const NOT_DRAWN: Readonly<Record<string, string>> = {
  table: 'tables are not drawn in the console',
  heatmap: 'heatmaps are not drawn in the console',
  bargauge: 'bar gauges are not drawn in the console',
  'state-timeline': 'state timelines are not drawn in the console',
  'status-history': 'status histories are not drawn in the console',
  piechart: 'pie charts are not drawn in the console',
  graph: 'the old graph panel is not drawn in the console (Grafana migrates it to a time series)',
};

const DRAW_AS: Readonly<Record<string, PanelModel['drawAs']>> = { timeseries: 'timeseries', stat: 'stat', gauge: 'stat', text: 'text' };

function panelModel(panel: PanelJson, row: number | null, variables: readonly VariableModel[]): PanelModel {
  const defaults = panel.fieldConfig?.defaults;
  const custom = defaults?.custom;
  const unit = defaults?.unit ?? 'short';
  const targets = (panel.targets ?? [])
    .filter((target) => target.hide !== true && typeof target.expr === 'string' && target.expr.trim() !== '')
    .map((target, index) => ({ refId: target.refId ?? String.fromCharCode(65 + index), expr: target.expr as string, legendFormat: target.legendFormat ?? '' }));
  const calc = panel.options?.reduceOptions?.calcs[0] ?? 'lastNotNull';
  const reduce = (REDUCE_CALCS as readonly string[]).includes(calc) ? (calc as ReduceCalc) : null;
  let drawAs = DRAW_AS[panel.type] ?? null;
  let reason = drawAs === null ? (NOT_DRAWN[panel.type] ?? `${panel.type} panels are not drawn in the console`) : null;
  const foreign = drawAs !== 'text' ? foreignDatasource([panel.datasource, ...(panel.targets ?? []).map((target) => target.datasource)], variables) : null;
  if (reason === null && foreign !== null) reason = `it queries ${foreign}; the console draws Prometheus queries only`;
  if (reason === null && drawAs !== 'text' && targets.length === 0) reason = 'it has no PromQL query';
  if (reason === null && drawAs === 'stat' && reduce === null) reason = `its value is reduced by ${calc}, which the console does not compute`;
  if (reason !== null) drawAs = null;
  const colorMode = panel.options?.colorMode;
  return {
    id: panel.id,
    title: panel.title ?? '',
    description: panel.description ?? '',
    type: panel.type,
    drawAs,
    drawable: drawAs !== null,
    reason,
    gridPos: { x: panel.gridPos.x, y: panel.gridPos.y, w: panel.gridPos.w, h: panel.gridPos.h },
    row,
    targets,
    unit,
    format: unitFormat(unit),
    min: defaults?.min ?? null,
    max: defaults?.max ?? null,
    decimals: defaults?.decimals ?? null,
    thresholds: {
      mode: defaults?.thresholds?.mode ?? 'absolute',
      steps: (defaults?.thresholds?.steps ?? [{ color: 'green', value: null }]).map((step) => ({ value: step.value ?? null, color: cssColor(step.color) })),
    },
    thresholdLines: custom?.thresholdsStyle?.mode !== 'off',
    reduce: drawAs === 'stat' ? reduce : null,
    colorMode: colorMode === 'background' || colorMode === 'background_solid' ? 'background' : colorMode === 'none' ? 'none' : 'value',
    stacked: custom?.stacking?.mode === 'normal',
    bars: custom?.drawStyle === 'bars',
    fillOpacity: custom?.fillOpacity ?? 0,
    softMin: custom?.axisSoftMin ?? null,
    softMax: custom?.axisSoftMax ?? null,
    text: drawAs === 'text' ? (panel.options?.content ?? '') : null,
  };
}

/** The kind of a datasource that is not Prometheus (`loki`...), resolving `${ds_var}` through datasource variables; null for Prometheus or unknown. */
function foreignDatasource(refs: ReadonlyArray<PanelJson['datasource']>, variables: readonly VariableModel[]): string | null {
  for (const ref of refs) {
    if (ref === null || ref === undefined || typeof ref === 'string') continue;
    let type = ref.type;
    const variable = /^\$\{?(\w+)\}?$/.exec(ref.uid ?? '')?.[1];
    const resolved = variables.find((v) => v.type === 'datasource' && v.name === variable);
    if (resolved) type = resolved.query;
    if (type !== undefined && type !== 'prometheus' && type !== 'datasource') return type;
  }
  return null;
}

// ---- Units and colours ----

/** The Grafana unit ids the console prints as Grafana does; any other id is printed as a suffix (Grafana's custom unit). */
export const UNIT_FORMATS: Readonly<Record<string, UnitFormat>> = {
  none: { kind: 'number', suffix: '', scaled: false },
  short: { kind: 'number', suffix: '', scaled: true },
  reqps: { kind: 'number', suffix: ' req/s', scaled: true },
  ops: { kind: 'number', suffix: ' ops/s', scaled: true },
  rps: { kind: 'number', suffix: ' rd/s', scaled: true },
  wps: { kind: 'number', suffix: ' wr/s', scaled: true },
  cps: { kind: 'number', suffix: ' c/s', scaled: true },
  percentunit: { kind: 'percent', factor: 100 },
  percent: { kind: 'percent', factor: 1 },
  ns: { kind: 'duration', toSeconds: 1e-9 },
  µs: { kind: 'duration', toSeconds: 1e-6 },
  ms: { kind: 'duration', toSeconds: 1e-3 },
  s: { kind: 'duration', toSeconds: 1 },
  m: { kind: 'duration', toSeconds: 60 },
  h: { kind: 'duration', toSeconds: 3600 },
  d: { kind: 'duration', toSeconds: 86_400 },
  bytes: { kind: 'bytes', base: 1024, toBytes: 1, suffix: '' },
  decbytes: { kind: 'bytes', base: 1000, toBytes: 1, suffix: '' },
  kbytes: { kind: 'bytes', base: 1024, toBytes: 1024, suffix: '' },
  mbytes: { kind: 'bytes', base: 1024, toBytes: 1024 ** 2, suffix: '' },
  Bps: { kind: 'bytes', base: 1000, toBytes: 1, suffix: '/s' },
  binBps: { kind: 'bytes', base: 1024, toBytes: 1, suffix: '/s' },
};

export function unitFormat(unit: string): UnitFormat {
  return UNIT_FORMATS[unit] ?? { kind: 'number', suffix: ` ${unit}`, scaled: false };
}

/** Grafana's named colours (its default theme), for thresholds; any other value is taken as CSS. */
const GRAFANA_COLORS: Readonly<Record<string, string>> = (() => {
  const shades: Record<string, [string, string, string, string, string]> = {
    // super-light, light, base, semi-dark, dark
    green: ['#C8F2C2', '#96D98D', '#73BF69', '#56A64B', '#37872D'],
    red: ['#FFA6B0', '#FF7383', '#F2495C', '#E02F44', '#C4162A'],
    orange: ['#FFCB7D', '#FFB357', '#FF9830', '#FA6400', '#E55400'],
    yellow: ['#FFF899', '#FFEE52', '#FADE2A', '#F2CC0C', '#E0B400'],
    blue: ['#C0D8FF', '#8AB8FF', '#5794F2', '#3274D9', '#1F60C4'],
    purple: ['#DEB6F2', '#CA95E5', '#B877D9', '#A352CC', '#8F3BB8'],
  };
  const colors: Record<string, string> = { transparent: 'transparent', text: 'currentColor' };
  for (const [name, [superLight, light, base, semiDark, dark]] of Object.entries(shades)) {
    Object.assign(colors, { [`super-light-${name}`]: superLight, [`light-${name}`]: light, [name]: base, [`semi-dark-${name}`]: semiDark, [`dark-${name}`]: dark });
  }
  return colors;
})();

export function cssColor(grafanaColor: string): string {
  return GRAFANA_COLORS[grafanaColor] ?? grafanaColor;
}

// ---- Shared with the browser: each function below is self-contained ----

export interface QueryTime {
  /** The range query's step, which Grafana calls the interval. */
  stepSeconds: number;
  rangeSeconds: number;
  /** Prometheus' scrape interval (Grafana's default: 15 s; the lab scrapes every second). */
  scrapeIntervalSeconds: number;
}

/**
 * An expression with its variables filled in, as Grafana does for Prometheus:
 * `$var`, `${var}`, `[[var]]` and `${var:format}` (formats: regex, pipe, raw,
 * csv; others as none). A variable that is multi or include-all is a regex:
 * one value escaped, several as `(a|b)`; a plain variable is its value
 * escaped for a PromQL string. All is the variable's allValue, else `.*`
 * (Grafana joins every option instead; `.*` matches the same). Built-ins:
 * $__interval(_ms) is the step; $__rate_interval(_ms) is
 * max(step + scrape interval, 4 x scrape interval); $__range(_s, _ms) the
 * range in whole seconds. An unknown variable is left as written.
 * `selected` overrides each variable's default (`current`).
 */
export function interpolateExpr(expr: string, variables: ReadonlyArray<Pick<VariableModel, 'name' | 'current' | 'multi' | 'includeAll' | 'allValue'>>, selected: Readonly<Record<string, readonly string[]>>, time: QueryTime): string {
  const duration = (seconds: number): string => (Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`);
  const rate = Math.max(time.stepSeconds + time.scrapeIntervalSeconds, 4 * time.scrapeIntervalSeconds);
  const range = Math.round(time.rangeSeconds);
  const builtins: Record<string, string> = {
    __interval: duration(time.stepSeconds),
    __interval_ms: String(Math.round(time.stepSeconds * 1000)),
    __rate_interval: duration(rate),
    __rate_interval_ms: String(Math.round(rate * 1000)),
    __range: `${range}s`,
    __range_s: String(range),
    __range_ms: String(range * 1000),
  };
  // Inside a PromQL string a regex's backslash is itself escaped: `a.b` matches as "a\\.b".
  const regexEscape = (value: string): string => value.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]+?.()|]/g, '\\\\$&');
  const stringEscape = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  const alternation = (values: readonly string[]): string => (values.length === 1 ? regexEscape(values[0] as string) : `(${values.map(regexEscape).join('|')})`);
  const reference = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::(\w+))?\}/g;
  return expr.replace(reference, (match: string, bare?: string, bracketed?: string, bracketFormat?: string, braced?: string, bracedFormat?: string) => {
    const name = (bare ?? bracketed ?? braced) as string;
    const format = bracketFormat ?? bracedFormat;
    const builtin = builtins[name];
    if (builtin !== undefined) return builtin;
    const variable = variables.find((v) => v.name === name);
    if (!variable) return match;
    const values = selected[name] ?? variable.current;
    if (values.includes('$__all')) return variable.allValue ?? '.*';
    switch (format) {
      case 'regex':
        return alternation(values);
      case 'pipe':
        return values.join('|');
      case 'raw':
      case 'csv':
        return values.join(',');
      default:
        return variable.multi || variable.includeAll ? alternation(values) : stringEscape(values[0] ?? '');
    }
  });
}

/**
 * A value as Grafana prints it in `format`: durations in the largest unit
 * below them (250 ms, 1.5 s, 2 min), bytes in KiB/MiB or kB/MB, counts with
 * K/M/B when scaled, percentunit x100. `decimals` fixes the digits; else 0 to
 * 2 by size. null (no data) prints as "no data".
 */
export function formatValue(value: number | null, format: UnitFormat, decimals: number | null = null): string {
  if (value === null || Number.isNaN(value)) return 'no data';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  const digits = (x: number): string => {
    if (decimals !== null) return x.toFixed(decimals);
    const abs = Math.abs(x);
    const fixed = x.toFixed(abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3);
    return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
  };
  const scale = (x: number, base: number, names: readonly string[]): [number, string] => {
    let index = 0;
    while (index < names.length - 1 && Math.abs(x) >= base) {
      x /= base;
      index++;
    }
    return [x, names[index] as string];
  };
  switch (format.kind) {
    case 'percent':
      return `${digits(value * format.factor)}%`;
    case 'duration': {
      const seconds = value * format.toSeconds;
      const abs = Math.abs(seconds);
      const [per, name] =
        abs === 0 ? [1, 's'] : abs < 1e-6 ? [1e-9, 'ns'] : abs < 1e-3 ? [1e-6, 'µs'] : abs < 1 ? [1e-3, 'ms'] : abs < 60 ? [1, 's'] : abs < 3600 ? [60, 'min'] : abs < 86_400 ? [3600, 'hour'] : [86_400, 'day'];
      return `${digits(seconds / per)} ${name}`;
    }
    case 'bytes': {
      const names = format.base === 1024 ? ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] : ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
      const [x, name] = scale(value * format.toBytes, format.base, names);
      return `${digits(x)} ${name}${format.suffix}`;
    }
    case 'number': {
      if (!format.scaled) return `${digits(value)}${format.suffix}`;
      const [x, name] = scale(value, 1000, ['', ' K', ' Mil', ' Bil', ' Tri']);
      return `${digits(x)}${name}${format.suffix}`;
    }
  }
}

/**
 * Prometheus' graph page for an expression, over the last `range` (15m):
 * `/graph` from 3.x on, the classic UI's `/classic/graph` on 2.x (Debian's
 * 2.x ships only that one). No version: `/graph`.
 */
export function prometheusGraphUrl(prometheusUrl: string, expr: string, options: { version?: string; range?: string } = {}): string {
  const major = Number(/^v?(\d+)\./.exec(options.version ?? '')?.[1] ?? NaN);
  const page = major < 3 ? '/classic/graph' : '/graph';
  return `${prometheusUrl.replace(/\/+$/, '')}${page}?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=${encodeURIComponent(options.range ?? '15m')}`;
}

/** `label_values(selector, label)` or `label_values(label)` split for Prometheus' label values API; null for any other variable query. */
export function parseLabelValues(query: string): { label: string; match: string | null } | null {
  const found = /^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?(\w+)\s*\)\s*$/.exec(query);
  if (!found) return null;
  return { label: found[2] as string, match: found[1] ?? null };
}

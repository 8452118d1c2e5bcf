// The small builder every Faultline dashboard is written with: panels,
// template variables, rows and links as typed data, laid out on Grafana's
// 24-column grid by the builder (so no two panels overlap and no module
// counts pixels), rendered to the dashboard JSON Grafana 11 provisions. Pure
// functions only: generate.ts writes the files, the tests read the same data.
// Every dashboard gets the same datasource variables (fixed uids from
// deploy/grafana/provisioning/datasources/datasources.yaml as defaults), the
// same fault-window annotation and the same links to its siblings.

import { LAB_METRIC, LABEL } from '../demo-services/kit/conventions.ts';

/** Datasource uids provisioned by deploy/grafana/provisioning/datasources/datasources.yaml. */
export const DATASOURCE_UID = { prometheus: 'prometheus', loki: 'loki', jaeger: 'jaeger', alertmanager: 'alertmanager' } as const;

/** Template variables that hold a datasource, one per kind the dashboards use. */
export const DS_VAR = { prometheus: 'ds_prometheus', loki: 'ds_loki', jaeger: 'ds_jaeger' } as const;

/** The tag every Faultline dashboard carries; dashboard links list the dashboards with it. */
export const FAULTLINE_TAG = 'faultline';

/** Grafana 11's dashboard schema version (older versions are migrated on load; newer ones are not understood). */
export const SCHEMA_VERSION = 39;

const GRID_WIDTH = 24;

export interface DatasourceRef {
  type: string;
  uid: string;
}

export const PROMETHEUS: DatasourceRef = { type: 'prometheus', uid: `\${${DS_VAR.prometheus}}` };

export interface Target {
  expr: string;
  /** Legend format, `{{label}}` placeholders. */
  legend: string;
  /** Show exemplars (trace ids on histogram buckets) with this query. */
  exemplar?: boolean;
  /** Only the latest value (stat panels and tables of what is true now). */
  instant?: boolean;
}

export type PanelType = 'timeseries' | 'stat' | 'state-timeline' | 'table' | 'bargauge';

export interface ValueMapping {
  value: string;
  text: string;
  color: string;
}

export interface DataLink {
  title: string;
  url: string;
  targetBlank?: boolean;
}

export interface PanelSpec {
  title: string;
  description: string;
  type: PanelType;
  /** Grafana unit id: reqps, s, percentunit, bytes, short, none... */
  unit: string;
  targets: Target[];
  /** Columns of 24; default 12. */
  width?: number;
  /** Grid rows of 30 px; default 8. */
  height?: number;
  min?: number;
  max?: number;
  decimals?: number;
  stacked?: boolean;
  /** Draw bars instead of lines (counts per interval). */
  bars?: boolean;
  /** Ascending thresholds above the base color: [value, color]. */
  thresholds?: Array<[number, string]>;
  /** Color below the first threshold; default green. */
  baseColor?: string;
  mappings?: ValueMapping[];
  links?: DataLink[];
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface QueryVariableSpec {
  name: string;
  label: string;
  /** Grafana's `label_values(<selector>, <label>)`. */
  selector: string;
  labelName: string;
  description: string;
  /** Multi-select with an All option matching any value (default true). */
  multi?: boolean;
}

export interface DashboardLinkSpec {
  title: string;
  url: string;
  tooltip: string;
  icon?: 'external link' | 'dashboard' | 'info';
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  variables: QueryVariableSpec[];
  rows: RowSpec[];
  /** Extra links beside the dropdown of every Faultline dashboard. */
  links?: DashboardLinkSpec[];
}

/** Grafana's value for a multi-select's All option: every value (Prometheus regexes are anchored). */
export const ALL_VALUE = '.+';

/** The label_values() query Grafana runs for a query variable. */
export function variableQuery(variable: QueryVariableSpec): string {
  return `label_values(${variable.selector}, ${variable.labelName})`;
}

/** The fault windows, from every chaos_fault_active gauge (the fault proxy's and the in-service faults'). */
export const FAULT_WINDOW_EXPR = `max by (${LABEL.fault}, ${LABEL.target}) (${LAB_METRIC.chaosFaultActive}) > 0`;

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  [key: string]: unknown;
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: Array<Record<string, unknown>> };
  annotations: { list: Array<Record<string, unknown>> };
  [key: string]: unknown;
}

function datasourceVariable(name: string, type: string, label: string, uid: string, text: string): Record<string, unknown> {
  return {
    name,
    label,
    type: 'datasource',
    query: type,
    current: { selected: false, text, value: uid },
    hide: 0,
    includeAll: false,
    multi: false,
    options: [],
    refresh: 1,
    regex: '',
    skipUrlSync: false,
  };
}

function queryVariable(variable: QueryVariableSpec): Record<string, unknown> {
  const multi = variable.multi ?? true;
  const query = variableQuery(variable);
  return {
    name: variable.name,
    label: variable.label,
    description: variable.description,
    type: 'query',
    datasource: PROMETHEUS,
    definition: query,
    query: { qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' },
    current: multi ? { selected: true, text: ['All'], value: ['$__all'] } : {},
    hide: 0,
    includeAll: multi,
    multi,
    ...(multi ? { allValue: ALL_VALUE } : {}),
    options: [],
    refresh: 2,
    regex: '',
    skipUrlSync: false,
    sort: 1,
  };
}

function fieldConfig(panel: PanelSpec): Record<string, unknown> {
  const custom: Record<string, unknown> = {};
  if (panel.type === 'timeseries') {
    Object.assign(custom, {
      drawStyle: panel.bars ? 'bars' : 'line',
      lineWidth: 1,
      fillOpacity: panel.stacked || panel.bars ? 60 : 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: panel.stacked ? 'normal' : 'none', group: 'A' },
      axisSoftMin: 0,
    });
  }
  if (panel.type === 'state-timeline') Object.assign(custom, { fillOpacity: 80, lineWidth: 0 });
  const steps: Array<{ color: string; value: number | null }> = [{ color: panel.baseColor ?? 'green', value: null }];
  for (const [value, color] of panel.thresholds ?? []) steps.push({ color, value });
  const mappings = panel.mappings?.length
    ? [{ type: 'value', options: Object.fromEntries(panel.mappings.map((m, index) => [m.value, { text: m.text, color: m.color, index }])) }]
    : [];
  return {
    defaults: {
      unit: panel.unit,
      ...(panel.min !== undefined ? { min: panel.min } : {}),
      ...(panel.max !== undefined ? { max: panel.max } : {}),
      ...(panel.decimals !== undefined ? { decimals: panel.decimals } : {}),
      color: { mode: panel.mappings?.length || panel.thresholds?.length ? 'thresholds' : 'palette-classic' },
      thresholds: { mode: 'absolute', steps },
      mappings,
      links: (panel.links ?? []).map((link) => ({ title: link.title, url: link.url, targetBlank: link.targetBlank ?? true })),
      custom,
    },
    overrides: [],
  };
}

function options(panel: PanelSpec): Record<string, unknown> {
  const legend = { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['mean', 'max', 'lastNotNull'] };
  const tooltip = { mode: 'multi', sort: 'desc' };
  switch (panel.type) {
    case 'timeseries':
      return { legend, tooltip };
    case 'state-timeline':
      return { showValue: 'auto', mergeValues: true, alignValue: 'left', rowHeight: 0.9, legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip };
    case 'stat':
      return { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'area', justifyMode: 'auto', orientation: 'auto', textMode: 'value_and_name', wideLayout: true };
    case 'bargauge':
      return { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, displayMode: 'gradient', orientation: 'horizontal', showUnfilled: true };
    case 'table':
      return { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], countRows: false } };
  }
}

function targets(panel: PanelSpec): Array<Record<string, unknown>> {
  return panel.targets.map((target, index) => ({
    refId: String.fromCharCode(65 + index),
    datasource: PROMETHEUS,
    editorMode: 'code',
    expr: target.expr,
    legendFormat: target.legend,
    range: !target.instant,
    instant: target.instant ?? false,
    exemplar: target.exemplar ?? false,
    ...(panel.type === 'table' ? { format: 'table' } : {}),
  }));
}

/** A table of instant queries shows one row per series with its labels, not a column per timestamp. */
function tableTransformations(panel: PanelSpec): Array<Record<string, unknown>> {
  if (panel.type !== 'table') return [];
  return [{ id: 'organize', options: { excludeByName: { Time: true, __name__: true }, renameByName: { Value: 'value' } } }];
}

/** Panels packed left to right, wrapping at 24 columns, each row a Grafana row panel above its panels. */
function layout(rows: readonly RowSpec[]): GrafanaPanel[] {
  const panels: GrafanaPanel[] = [];
  let id = 1;
  let y = 0;
  for (const row of rows) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { x: 0, y, w: GRID_WIDTH, h: 1 }, panels: [] });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const panel of row.panels) {
      const w = panel.width ?? 12;
      const h = panel.height ?? 8;
      if (w < 1 || w > GRID_WIDTH) throw new RangeError(`${row.title} / ${panel.title}: width ${w} is not within 1..${GRID_WIDTH}`);
      if (x + w > GRID_WIDTH) {
        y += lineHeight;
        x = 0;
        lineHeight = 0;
      }
      panels.push({
        id: id++,
        type: panel.type,
        title: panel.title,
        description: panel.description,
        datasource: PROMETHEUS,
        gridPos: { x, y, w, h },
        fieldConfig: fieldConfig(panel),
        options: options(panel),
        targets: targets(panel),
        transformations: tableTransformations(panel),
      });
      x += w;
      lineHeight = Math.max(lineHeight, h);
    }
    y += lineHeight;
  }
  return panels;
}

/** An Explore URL for one query on one datasource (Grafana 10+ `panes` format); `${...}` variables are left for Grafana to fill. */
export function exploreUrl(datasourceVar: string, query: Record<string, unknown>): string {
  const panes = { a: { datasource: `\${${datasourceVar}}`, queries: [{ refId: 'A', datasource: { uid: `\${${datasourceVar}}` }, ...query }], range: { from: '${__from}', to: '${__to}' } } };
  const encoded = encodeURIComponent(JSON.stringify(panes)).replace(/%24%7B([\w.:]+)%7D/g, (_m, name: string) => `\${${decodeURIComponent(name)}}`);
  return `/explore?schemaVersion=1&orgId=1&panes=${encoded}`;
}

export function renderDashboard(spec: DashboardSpec): GrafanaDashboard {
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: [FAULTLINE_TAG, ...spec.tags],
    editable: false,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    refresh: '10s',
    schemaVersion: SCHEMA_VERSION,
    time: { from: 'now-30m', to: 'now' },
    timepicker: { refresh_intervals: ['5s', '10s', '30s', '1m', '5m'] },
    timezone: 'browser',
    version: 1,
    weekStart: '',
    links: [
      { title: 'Faultline', type: 'dashboards', tags: [FAULTLINE_TAG], asDropdown: true, includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: 'The other Faultline dashboards', url: '' },
      ...(spec.links ?? []).map((link) => ({
        title: link.title,
        type: 'link',
        url: link.url,
        tooltip: link.tooltip,
        icon: link.icon ?? 'external link',
        asDropdown: false,
        includeVars: false,
        keepTime: false,
        targetBlank: true,
        tags: [],
      })),
    ],
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
        {
          name: 'Fault windows',
          datasource: PROMETHEUS,
          enable: true,
          hide: false,
          iconColor: 'red',
          expr: FAULT_WINDOW_EXPR,
          step: '5s',
          titleFormat: 'fault {{fault}}',
          textFormat: '{{fault}} on {{target}}',
          tagKeys: `${LABEL.fault},${LABEL.target}`,
          useValueForTime: false,
        },
      ],
    },
    templating: {
      list: [
        datasourceVariable(DS_VAR.prometheus, 'prometheus', 'Prometheus', DATASOURCE_UID.prometheus, 'Prometheus'),
        datasourceVariable(DS_VAR.loki, 'loki', 'Loki (logs)', DATASOURCE_UID.loki, 'Loki'),
        datasourceVariable(DS_VAR.jaeger, 'jaeger', 'Jaeger (traces)', DATASOURCE_UID.jaeger, 'Jaeger'),
        ...spec.variables.map(queryVariable),
      ],
    },
    panels: layout(spec.rows),
  };
}

export type MatchOp = '=' | '!=' | '=~' | '!~';
export type Matcher = readonly [label: string, op: MatchOp, value: string];

/** `{a="x", b=~"$v"}` from label matchers, in the order given. */
export function selector(...matchers: readonly Matcher[]): string {
  return `{${matchers.map(([label, op, value]) => `${label}${op}"${value}"`).join(', ')}}`;
}

/** `sum by (labels) (rate(metric{sel}[$__rate_interval]))` */
export function sumRate(metric: string, sel: string, by: readonly string[]): string {
  const grouping = by.length > 0 ? ` by (${by.join(', ')})` : '';
  return `sum${grouping} (rate(${metric}${sel}[$__rate_interval]))`;
}

/** A quantile of a Prometheus histogram, grouped by `by` (plus le). */
export function quantile(q: number, histogram: string, sel: string, by: readonly string[]): string {
  return `histogram_quantile(${q}, ${sumRate(`${histogram}_bucket`, sel, [...by, 'le'])})`;
}

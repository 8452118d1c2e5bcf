// Every PromQL expression the dashboards run, with template variables filled
// in, for checks that stand in for Grafana: promtool parses them here
// (queries.test.ts), and the live test runs them against a real Prometheus
// after a lab run. Nothing is skipped: each panel's targets, the fault-window
// annotation, and the series selector behind each template variable's
// label_values() query.

import { renderDashboards } from './generate.ts';
import { ALL_VALUE, type GrafanaDashboard } from './grafana.ts';

export interface DashboardQuery {
  /** The dashboard's file name without .json (service-overview, slos...). */
  dashboard: string;
  /** The panel title; `annotation: <name>` or `variable: <name>` for the others. */
  panel: string;
  expr: string;
}

/** Grafana's built-in variables, with values that suit a short lab run scraped every second or few. */
export const BUILTIN_DEFAULTS: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

export class DashboardQueryError extends Error {
  readonly code = 'DASHBOARD_VARIABLE';
  constructor(message: string) {
    super(message);
    this.name = 'DashboardQueryError';
  }
}

const VARIABLE_REF = /\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g;

/**
 * Every dashboard expression with its variables replaced: from `vars` first
 * (a dashboard variable such as `service`, or a built-in such as
 * `__rate_interval`), else the built-in defaults, else the variable's All
 * value (every value). A variable nobody can fill is an error naming it.
 */
export function dashboardQueries(vars: Record<string, string>): Array<{ dashboard: string; panel: string; expr: string }> {
  return queriesOf(renderDashboards(), vars);
}

/** dashboardQueries over the dashboards given. */
export function queriesOf(dashboards: ReadonlyArray<{ name: string; dashboard: GrafanaDashboard }>, vars: Record<string, string>): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const { name, dashboard } of dashboards) {
    const allValues = new Map<string, string>();
    for (const variable of dashboard.templating.list) {
      if (variable.type === 'query' && variable.includeAll === true) allValues.set(String(variable.name), String(variable.allValue ?? ALL_VALUE));
    }
    const fill = (expr: string, where: string): string =>
      expr.replace(VARIABLE_REF, (match, braced?: string, bare?: string, bracketed?: string) => {
        const variable = (braced ?? bare ?? bracketed) as string;
        const value = vars[variable] ?? BUILTIN_DEFAULTS[variable] ?? allValues.get(variable);
        if (value === undefined) throw new DashboardQueryError(`${name} / ${where}: no value for variable ${match}`);
        return value;
      });
    const add = (panel: string, expr: string): void => {
      queries.push({ dashboard: name, panel, expr: fill(expr, panel) });
    };
    for (const variable of dashboard.templating.list) {
      if (variable.type !== 'query') continue;
      const definition = String(variable.definition);
      const selector = /^label_values\((.*),\s*\w+\)$/.exec(definition)?.[1];
      if (selector === undefined) throw new DashboardQueryError(`${name} / variable ${String(variable.name)}: not a label_values() query: ${definition}`);
      add(`variable: ${String(variable.name)}`, selector);
    }
    for (const annotation of dashboard.annotations.list) {
      if (typeof annotation.expr === 'string') add(`annotation: ${String(annotation.name)}`, annotation.expr);
    }
    for (const panel of dashboard.panels) {
      for (const target of (panel.targets ?? []) as Array<{ expr?: unknown }>) {
        if (typeof target.expr === 'string') add(panel.title, target.expr);
      }
    }
  }
  return queries;
}

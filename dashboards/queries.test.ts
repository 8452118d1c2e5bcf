// Every PromQL expression of every dashboard parses with Prometheus' own
// parser (promtool), with variables set to one plausible value each and to
// their All values; a broken expression is reported with its dashboard and
// panel; and dashboardQueries() fills every variable or names the one it cannot.

import { describe, expect, it } from 'vitest';
import { findTool, TOOL_PACKAGE } from '../slo/tools.ts';
import { checkPromql, formatProblems } from './promql-check.ts';
import { dashboardQueries, DashboardQueryError, queriesOf } from './queries.ts';
import { renderDashboards } from './generate.ts';

const promtool = await findTool('promtool');
if (promtool === undefined) console.warn(`SKIPPED: promtool is not on PATH (apt-get install ${TOOL_PACKAGE.promtool}); the dashboards' PromQL is not parsed here.`);

/** One value per dashboard variable, as a user picking a single item would set it. */
const PLAUSIBLE: Record<string, string> = {
  service: 'checkout',
  instance: 'checkout',
  route: '/checkout',
  dependency: 'payment',
  slo: 'checkout-availability',
  journey: 'checkout',
  proxy: 'payment-bank',
  signal: 'traces',
};

describe('dashboardQueries', () => {
  const queries = dashboardQueries({});

  it('covers every panel target, every variable and the fault annotation of every dashboard', () => {
    for (const { name, dashboard } of renderDashboards()) {
      const mine = queries.filter((q) => q.dashboard === name);
      const targets = dashboard.panels.reduce((n, panel) => n + ((panel.targets as unknown[] | undefined)?.length ?? 0), 0);
      const variables = dashboard.templating.list.filter((v) => v.type === 'query').length;
      expect(mine.length, name).toBe(targets + variables + 1);
      expect(mine.some((q) => q.panel === 'annotation: Fault windows'), name).toBe(true);
    }
  });

  it('leaves no template variable behind', () => {
    for (const query of [...queries, ...dashboardQueries(PLAUSIBLE)]) expect(query.expr, `${query.dashboard} / ${query.panel}`).not.toMatch(/\$|\[\[/);
  });

  it('fills dashboard variables and built-ins from vars', () => {
    const filled = dashboardQueries({ ...PLAUSIBLE, __rate_interval: '4s' });
    const rate = filled.find((q) => q.dashboard === 'service-overview' && q.panel === 'Requests by service');
    expect(rate?.expr).toContain('job=~"checkout"');
    expect(rate?.expr).toContain('[4s]');
    const collector = filled.find((q) => q.dashboard === 'collector' && q.panel === 'Received');
    expect(collector?.expr).toContain('[1h]');
  });

  it('uses the All value for a variable vars does not set', () => {
    const rate = queries.find((q) => q.dashboard === 'resilience' && q.panel === 'Calls by outcome');
    expect(rate?.expr).toContain('job=~".+", dependency=~".+"');
  });
});

describe('a variable nobody fills', () => {
  it('is an error naming the dashboard, the panel and the variable', () => {
    const dashboards = renderDashboards();
    const first = dashboards[0] as (typeof dashboards)[number];
    const panel = first.dashboard.panels.find((p) => p.type !== 'row') as unknown as { title: string; targets: Array<{ expr: string }> };
    (panel.targets[0] as { expr: string }).expr += ' + $nope';
    expect(() => queriesOf(dashboards, {})).toThrow(DashboardQueryError);
    expect(() => queriesOf(dashboards, {})).toThrow(`service-overview / ${panel.title}: no value for variable $nope`);
    expect(queriesOf(dashboards, { nope: '1' }).some((q) => q.expr.endsWith(' + 1'))).toBe(true);
  });
});

describe.skipIf(promtool === undefined)('promtool', () => {
  const tool = promtool as string;

  it('parses every expression with plausible values and with All values', async () => {
    const queries = [...dashboardQueries(PLAUSIBLE), ...dashboardQueries({})];
    const check = await checkPromql(tool, queries);
    expect(check.problems, formatProblems(check.problems)).toEqual([]);
    expect(check.ok, check.output).toBe(true);
    expect(check.parsed).toBe(queries.length);
  });

  it('names the dashboard and panel of an expression that does not parse', async () => {
    const queries = [
      { dashboard: 'service-overview', panel: 'Request rate', expr: 'sum(rate(http_server_request_duration_seconds_count[1m])' },
      { dashboard: 'slos', panel: 'Objective', expr: 'max by (sloth_id) (slo:objective:ratio)' },
      { dashboard: 'chaos', panel: 'Fault timeline', expr: 'max by (fault (chaos_fault_active)' },
    ];
    const check = await checkPromql(tool, queries);
    expect(check.ok).toBe(false);
    expect(check.problems.map((p) => `${p.dashboard} / ${p.panel}`)).toEqual(['service-overview / Request rate', 'chaos / Fault timeline']);
    expect(check.problems[0]?.message).toMatch(/parse error/);
  });
});

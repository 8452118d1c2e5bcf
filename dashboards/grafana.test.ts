// The dashboard builder on its own: grid layout (wrapping, rows, bad widths),
// selectors, Explore links that keep Grafana's variables, targets.

import { describe, expect, it } from 'vitest';
import { exploreUrl, quantile, renderDashboard, selector, sumRate, type PanelSpec } from './grafana.ts';

const panel = (title: string, width?: number, height?: number): PanelSpec => ({ title, description: `${title} panel`, type: 'timeseries', unit: 'short', targets: [{ expr: 'up', legend: '{{job}}' }], ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}) });

describe('renderDashboard layout', () => {
  const dashboard = renderDashboard({
    uid: 'test',
    title: 'Faultline / Test',
    description: 'test',
    tags: [],
    variables: [],
    rows: [
      { title: 'One', panels: [panel('a', 12, 4), panel('b', 8, 6), panel('c', 8), panel('d', 24, 3)] },
      { title: 'Two', panels: [panel('e')] },
    ],
  });
  const at = (title: string) => dashboard.panels.find((p) => p.title === title)?.gridPos;

  it('packs panels left to right and wraps below the tallest of the line', () => {
    expect(at('One')).toEqual({ x: 0, y: 0, w: 24, h: 1 });
    expect(at('a')).toEqual({ x: 0, y: 1, w: 12, h: 4 });
    expect(at('b')).toEqual({ x: 12, y: 1, w: 8, h: 6 });
    expect(at('c')).toEqual({ x: 0, y: 7, w: 8, h: 8 });
    expect(at('d')).toEqual({ x: 0, y: 15, w: 24, h: 3 });
    expect(at('Two')).toEqual({ x: 0, y: 18, w: 24, h: 1 });
    expect(at('e')).toEqual({ x: 0, y: 19, w: 12, h: 8 });
  });

  it('numbers panels from 1, rows included', () => {
    expect(dashboard.panels.map((p) => p.id)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects a panel wider than the grid, naming it', () => {
    expect(() => renderDashboard({ uid: 'x', title: 'x', description: 'x', tags: [], variables: [], rows: [{ title: 'Row', panels: [panel('wide', 30)] }] })).toThrow('Row / wide: width 30 is not within 1..24');
  });
});

describe('PromQL helpers', () => {
  it('write selectors, rates and quantiles', () => {
    expect(selector(['job', '=~', '$service'], ['status', '!~', '2..'])).toBe('{job=~"$service", status!~"2.."}');
    expect(sumRate('x_total', '{a="b"}', ['job'])).toBe('sum by (job) (rate(x_total{a="b"}[$__rate_interval]))');
    expect(sumRate('x_total', '', [])).toBe('sum (rate(x_total[$__rate_interval]))');
    expect(quantile(0.99, 'h', '', ['job'])).toBe('histogram_quantile(0.99, sum by (job, le) (rate(h_bucket[$__rate_interval])))');
  });
});

describe('exploreUrl', () => {
  it('encodes the panes JSON but leaves ${...} for Grafana to fill', () => {
    const url = exploreUrl('ds_loki', { expr: '{service_name="${__field.labels.job}"}' });
    expect(url).toMatch(/^\/explore\?schemaVersion=1&orgId=1&panes=/);
    expect(url).toContain('${ds_loki}');
    expect(url).toContain('${__field.labels.job}');
    expect(url.replace(/\$\{[\w.:]+\}/g, '')).not.toMatch(/[ "{}]/);
    const panes = JSON.parse(decodeURIComponent(url.split('panes=')[1] as string)) as { a: { datasource: string; queries: Array<{ expr: string }> } };
    expect(panes.a.datasource).toBe('${ds_loki}');
    expect(panes.a.queries[0]?.expr).toBe('{service_name="${__field.labels.job}"}');
  });
});

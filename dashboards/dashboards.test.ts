// What Grafana would check on load, checked here since Grafana cannot run on
// these machines: the committed JSON is what the generator renders (fresh),
// is a dashboard Grafana 11 understands (schemaVersion, unique uids and panel
// ids, panels inside the 24-column grid and never overlapping), every
// datasource reference names a provisioned uid or a datasource variable,
// every variable a query uses is defined, every metric comes from the shared
// conventions or the SLO rules, and the provisioning files load this folder.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import * as conventions from '../demo-services/kit/conventions.ts';
import * as sloRules from '../slo/rules.ts';
import { DASHBOARDS, DASHBOARDS_ROOT, OUT_DIR, renderDashboardFiles, renderDashboards } from './generate.ts';
import { DS_VAR, FAULT_WINDOW_EXPR, type GrafanaDashboard, type GrafanaPanel } from './grafana.ts';
import { BUILTIN_DEFAULTS, dashboardQueries } from './queries.ts';

const REPO = join(DASHBOARDS_ROOT, '..');
const readYaml = async <T>(path: string): Promise<T> => parse(await readFile(join(REPO, path), 'utf8')) as T;

const provisioned = (await readYaml<{ datasources: Array<{ uid: string; type: string }> }>('deploy/grafana/provisioning/datasources/datasources.yaml')).datasources;
const provisionedUids = new Map(provisioned.map((source) => [source.uid, source.type]));
const committed = await Promise.all(DASHBOARDS.map(async ({ name }) => ({ name, dashboard: JSON.parse(await readFile(join(OUT_DIR, `${name}.json`), 'utf8')) as GrafanaDashboard })));

const visible = (dashboard: GrafanaDashboard): GrafanaPanel[] => dashboard.panels.filter((panel) => panel.type !== 'row');

/** Every value of a `datasource` key anywhere in the JSON, with where it was found. */
function datasourceRefs(node: unknown, path: string, out: Array<{ path: string; ref: unknown }> = []): Array<{ path: string; ref: unknown }> {
  if (Array.isArray(node)) node.forEach((item, index) => datasourceRefs(item, `${path}[${index}]`, out));
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'datasource') out.push({ path: `${path}.${key}`, ref: value });
      datasourceRefs(value, `${path}.${key}`, out);
    }
  }
  return out;
}

/** Explore links carry their datasource inside the URL's `panes` JSON. */
function exploreDatasources(dashboard: GrafanaDashboard): string[] {
  const urls = [...JSON.stringify(dashboard).matchAll(/\/explore\?[^"]*panes=([^"&]+)/g)].map((match) => match[1] as string);
  return urls.map((encoded) => {
    const panes = JSON.parse(decodeURIComponent(encoded.replace(/\$\{([^}]+)\}/g, (_m, name: string) => `%24%7B${encodeURIComponent(name)}%7D`))) as Record<string, { datasource: string }>;
    return Object.values(panes).map((pane) => pane.datasource).join(',');
  });
}

describe('the committed dashboards', () => {
  it('are exactly what the generator renders (run `node dashboards/generate.ts` when this fails)', async () => {
    const files = renderDashboardFiles();
    expect((await readdir(OUT_DIR)).filter((file) => file.endsWith('.json')).sort()).toEqual([...files.keys()].sort());
    for (const [file, text] of files) expect(await readFile(join(OUT_DIR, file), 'utf8'), `dashboards/faultline/${file} is stale`).toBe(text);
  });

  it('are seven, with unique uids and titles', () => {
    expect(committed).toHaveLength(7);
    expect(new Set(committed.map(({ dashboard }) => dashboard.uid)).size).toBe(7);
    expect(new Set(committed.map(({ dashboard }) => dashboard.title)).size).toBe(7);
  });
});

describe.each(committed.map(({ name, dashboard }) => [name, dashboard] as const))('%s', (name, dashboard) => {
  it('is a Grafana 11 dashboard: schemaVersion, uid, title, time, tags', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(40);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toMatch(/^Faultline \/ /);
    expect(dashboard.time).toEqual({ from: expect.any(String), to: 'now' });
    expect(dashboard.tags).toContain('faultline');
    expect(dashboard).not.toHaveProperty('id');
  });

  it('has unique panel ids and titles, and every panel a description, a unit and a query', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const titles = visible(dashboard).map((panel) => panel.title);
    expect(new Set(titles).size).toBe(titles.length);
    for (const panel of visible(dashboard)) {
      expect(String(panel.description).length, panel.title).toBeGreaterThan(20);
      expect((panel.fieldConfig as { defaults: { unit?: string } }).defaults.unit, panel.title).toBeTruthy();
      expect((panel.targets as unknown[]).length, panel.title).toBeGreaterThan(0);
    }
  });

  it('keeps every panel inside the 24-column grid, with no two overlapping', () => {
    const boxes = dashboard.panels.map((panel) => ({ title: panel.title, ...panel.gridPos }));
    for (const box of boxes) {
      expect(box.x >= 0 && box.y >= 0 && box.w >= 1 && box.h >= 1 && box.x + box.w <= 24, box.title).toBe(true);
    }
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${a.title} overlaps ${b.title}`).toBe(false);
      }
    }
  });

  it('resolves every datasource reference to a provisioned uid or a datasource variable', () => {
    const variables = new Map(dashboard.templating.list.filter((v) => v.type === 'datasource').map((v) => [String(v.name), String(v.query)]));
    const refs = datasourceRefs(dashboard, name);
    expect(refs.length).toBeGreaterThan(visible(dashboard).length);
    for (const { path, ref } of refs) {
      const uid = typeof ref === 'string' ? ref : (ref as { uid?: string }).uid;
      const type = typeof ref === 'string' ? undefined : (ref as { type?: string }).type;
      const variable = /^\$\{(\w+)\}$/.exec(uid ?? '')?.[1];
      if (variable !== undefined) {
        expect(variables.has(variable), `${path}: no datasource variable ${variable}`).toBe(true);
        if (type !== undefined) expect(variables.get(variable), path).toBe(type);
      } else if (uid === '-- Grafana --') {
        expect(type, path).toBe('grafana');
      } else {
        expect(provisionedUids.has(uid as string), `${path}: ${String(uid)} is not provisioned`).toBe(true);
      }
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === 'datasource')) {
      const current = (variable.current as { value: string }).value;
      expect(provisionedUids.get(current), `default of $${String(variable.name)}`).toBe(variable.query);
    }
    for (const datasource of exploreDatasources(dashboard)) {
      const variable = /^\$\{(\w+)\}$/.exec(datasource)?.[1];
      expect(variable !== undefined && variables.has(variable), `explore link datasource ${datasource}`).toBe(true);
    }
  });

  it('uses only variables it defines or Grafana provides', () => {
    /** Grafana's own: the All option, and what data links and dashboard links may use. */
    const grafana = ['__all', '__field', '__from', '__to', '__url_time_range'];
    const defined = new Set([...dashboard.templating.list.map((v) => String(v.name)), ...Object.keys(BUILTIN_DEFAULTS), ...grafana]);
    for (const match of JSON.stringify(dashboard).matchAll(/\$\{?(\w+)/g)) expect(defined.has(match[1] as string), `$${match[1]}`).toBe(true);
  });

  it('draws the fault windows from chaos_fault_active', () => {
    const annotation = dashboard.annotations.list.find((a) => a.name === 'Fault windows');
    expect(annotation).toMatchObject({ enable: true, expr: FAULT_WINDOW_EXPR, datasource: { type: 'prometheus', uid: `\${${DS_VAR.prometheus}}` } });
  });

  it('links to the other Faultline dashboards, and its dashboard links resolve', () => {
    const links = dashboard.links as Array<{ type: string; tags?: string[] }>;
    expect(links.some((link) => link.type === 'dashboards' && link.tags?.includes('faultline'))).toBe(true);
    const uids = new Set(committed.map(({ dashboard: d }) => d.uid));
    for (const match of JSON.stringify(dashboard).matchAll(/\/d\/([\w-]+)/g)) expect(uids.has(match[1] as string), match[0]).toBe(true);
  });
});

describe('metric names', () => {
  /** Every string constant of conventions.ts and slo/rules.ts. */
  const known = new Set<string>();
  const collect = (value: unknown): void => {
    if (typeof value === 'string') known.add(value);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(collect);
  };
  collect(conventions);
  collect(sloRules);

  it('come from the shared conventions or the SLO rules, never typed into a dashboard', () => {
    const KEYWORDS = new Set(['sum', 'max', 'min', 'count', 'rate', 'increase', 'histogram_quantile', 'by', 'on', 'group_left', 'or', 'and', 'vector', 'le']);
    const unknown = new Set<string>();
    for (const query of dashboardQueries({})) {
      const names = [...query.expr.matchAll(/([a-zA-Z_:][\w:]*)\s*(?=[{[)])/g)].map((m) => m[1] as string);
      const bare = [...query.expr.matchAll(/\(\s*([a-zA-Z_:][\w:]*)\s*\)/g)].map((m) => m[1] as string);
      for (const name of [...names, ...bare]) {
        if (KEYWORDS.has(name) || /^\d/.test(name)) continue;
        const base = name.replace(/_(bucket|count|sum)$/, '');
        if (!known.has(name) && !known.has(base)) unknown.add(`${query.dashboard} / ${query.panel}: ${name}`);
      }
    }
    expect([...unknown]).toEqual([]);
  });

  it('label names come from the shared conventions (so a renamed or deprecated label, such as rpc_grpc_status_code, fails here)', () => {
    const PROMQL = new Set(['le', '__name__']);
    const unknown = new Set<string>();
    for (const query of dashboardQueries({})) {
      const grouped = [...query.expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g)].flatMap((m) => (m[1] as string).split(',').map((l) => l.trim()));
      const matched = [...query.expr.matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1] as string);
      for (const label of [...grouped, ...matched]) if (label !== '' && !known.has(label) && !PROMQL.has(label)) unknown.add(`${query.dashboard} / ${query.panel}: ${label}`);
    }
    expect([...unknown]).toEqual([]);
  });
});

describe('provisioning', () => {
  it('loads this folder: the provider path is where docker-compose.yml mounts dashboards/', async () => {
    const provider = await readYaml<{ providers: Array<{ type: string; options: { path: string } }> }>('deploy/grafana/provisioning/dashboards/provider.yaml');
    const compose = await readYaml<{ services: { grafana: { volumes: string[] } } }>('docker-compose.yml');
    const mount = compose.services.grafana.volumes.map((v) => v.split(':')).find(([from]) => from === './dashboards');
    expect(mount?.[1]).toBe(provider.providers[0]?.options.path);
    expect(provider.providers[0]?.type).toBe('file');
  });

  it('provisions Prometheus, Jaeger, Loki and Alertmanager under the uids the dashboards use, with exemplar and trace-to-logs links', () => {
    expect(Object.fromEntries(provisionedUids)).toMatchObject({ prometheus: 'prometheus', jaeger: 'jaeger', loki: 'loki', alertmanager: 'alertmanager' });
    const byUid = new Map(provisioned.map((source) => [source.uid, source as unknown as { jsonData: Record<string, unknown> }]));
    expect(byUid.get('prometheus')?.jsonData.exemplarTraceIdDestinations).toEqual([expect.objectContaining({ name: conventions.LOG_FIELD.traceId, datasourceUid: 'jaeger' })]);
    expect(byUid.get('jaeger')?.jsonData.tracesToLogsV2).toMatchObject({ datasourceUid: 'loki' });
    expect(byUid.get('jaeger')?.jsonData.tracesToMetrics).toMatchObject({ datasourceUid: 'prometheus' });
  });

  it('renders the same dashboards every time', () => {
    expect(JSON.stringify(renderDashboards())).toBe(JSON.stringify(renderDashboards()));
  });
});

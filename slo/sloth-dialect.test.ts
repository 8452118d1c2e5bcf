// Sloth's spellings read unchanged: slo/fixtures/sloth/ holds a prometheus/v1
// file and an OpenSLO v1alpha file written for these tests. They must read,
// generate alerts that carry the file's page and ticket labels (in the
// default four-tier style and in Sloth's two-alert style), and the generated
// rules and promtool stories must pass Prometheus' own tools.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SloError } from './errors.ts';
import { generateSloArtifacts, renderSloArtifacts } from './generate.ts';
import { type AlertingRule, renderRules } from './rules.ts';
import { loadSloSpecs, parseSloSpecs, SLO_ROOT, type SloDefinition } from './spec.ts';
import { findTool, promtoolCheckRules, promtoolTestRules } from './tools.ts';

const FIXTURES = join(SLO_ROOT, 'fixtures', 'sloth');
const slos = await loadSloSpecs(FIXTURES);
const byId = new Map(slos.map((slo) => [slo.id, slo]));
const get = (id: string) => byId.get(id) as SloDefinition;
const alertsOf = (style: 'tiers' | 'sloth', slo: SloDefinition) =>
  renderRules([slo], { alertStyle: style })
    .groups.flatMap((g) => g.rules)
    .filter((r): r is AlertingRule => 'alert' in r);

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof SloError) return error.problems;
    throw error;
  }
  throw new Error('expected an SloError');
}

const slothFile = (slo: Record<string, unknown>) => ({ version: 'prometheus/v1', service: 'svc', slos: [{ name: 'a', objective: 99.9, ...slo }] });
const events = { events: { error_query: 'sum(rate(x_total{code=~"5.."}[{{.window}}]))', total_query: 'sum(rate(x_total[{{.window}}]))' } };

describe("Sloth's prometheus/v1 file", () => {
  it('reads every SLO with Sloth ids, percent objectives, merged labels and 30-day workbook tiers', () => {
    expect(slos.map((slo) => slo.id)).toEqual(['catalog-catalog-reads-0', 'shop-api-payment-calls', 'shop-api-probe-success', 'shop-api-requests-availability', 'shop-api-requests-latency']);
    const availability = get('shop-api-requests-availability');
    expect(availability).toMatchObject({ service: 'shop-api', name: 'requests-availability', objective: 0.999, errorBudget: 0.001, periodMs: 30 * 86_400_000, format: 'prometheus/v1' });
    // Spec-level labels then the SLO's; `tier: 2` is the team's own label, as a string.
    expect(availability.labels).toEqual({ owner: 'shop-team', tier: '2', category: 'availability' });
    expect(availability.sli.form).toBe('bad');
    expect(availability.alerting.name).toBe('ShopApiHighErrorRate');
    expect(availability.alerting.tiers.map((t) => [t.name, t.burnFactor])).toEqual([
      ['page-1h', 14.4],
      ['page-6h', 6],
      ['ticket-1d', 3],
      ['ticket-3d', 1],
    ]);
    expect(get('shop-api-payment-calls').alerting.tiers.map((t) => t.name)).toEqual(['page-1h', 'page-6h']);
    expect(get('shop-api-probe-success').alerting.tiers).toEqual([]);
    expect(get('shop-api-probe-success').sli).toEqual({
      kind: 'raw',
      form: 'ratio',
      events: '1 - avg(avg_over_time(probe_success{job="blackbox"}[{{.window}}]))',
      total: 'count(1 - avg(avg_over_time(probe_success{job="blackbox"}[{{.window}}])))',
    });
  });

  it('generates four-tier alerts that carry the page_alert and ticket_alert labels and annotations', () => {
    const rules = alertsOf('tiers', get('shop-api-requests-availability'));
    expect(rules.map((r) => [r.labels.slo_tier, r.labels.severity, r.labels.sloth_severity, r.labels.routing_key, r.labels.slack_channel, r.labels.category])).toEqual([
      ['page-1h', 'critical', 'page', 'shop-oncall', undefined, 'availability'],
      ['page-6h', 'critical', 'page', 'shop-oncall', undefined, 'availability'],
      ['ticket-1d', 'warning', 'ticket', undefined, '#shop-alerts', 'availability'],
      ['ticket-3d', 'warning', 'ticket', undefined, '#shop-alerts', 'availability'],
    ]);
    expect(rules.map((r) => [r.annotations.runbook, r.annotations.escalation])).toEqual([
      ['https://runbooks.example.org/shop-api/availability', 'call the shop on-call'],
      ['https://runbooks.example.org/shop-api/availability', 'call the shop on-call'],
      ['https://runbooks.example.org/shop-api/availability', undefined],
      ['https://runbooks.example.org/shop-api/availability', undefined],
    ]);
    for (const rule of rules) expect(rule.labels).not.toHaveProperty('tier');
    // A disabled ticket_alert writes no ticket; every alert disabled writes no alert group.
    expect(alertsOf('tiers', get('shop-api-payment-calls')).map((r) => r.labels.sloth_severity)).toEqual(['page', 'page']);
    expect(renderRules([get('shop-api-probe-success')]).groups.map((g) => g.name)).toEqual(['sloth-slo-sli-recordings-shop-api-probe-success', 'sloth-slo-meta-recordings-shop-api-probe-success']);
  });

  it("generates Sloth's two alerts, page and ticket, with Sloth's expression, labels and annotations", () => {
    const [page, ticket, ...rest] = alertsOf('sloth', get('shop-api-requests-availability'));
    expect(rest).toEqual([]);
    const filter = '{sloth_id="shop-api-requests-availability", sloth_service="shop-api", sloth_slo="requests-availability"}';
    const window = (w: string, factor: number) => `max(slo:sli_error:ratio_rate${w}${filter} > (${factor} * 0.001)) without (sloth_window)`;
    // Sloth's mwmbAlertTpl: (quick short and quick long) or (slow short and slow long).
    const expr = (quick: [string, string, number], slow: [string, string, number]) =>
      `(\n    ${window(quick[0], quick[2])}\n    and\n    ${window(quick[1], quick[2])}\n)\nor\n(\n    ${window(slow[0], slow[2])}\n    and\n    ${window(slow[1], slow[2])}\n)`;
    expect(page).toEqual({
      alert: 'ShopApiHighErrorRate',
      expr: expr(['5m', '1h', 14.4], ['30m', '6h', 6]),
      labels: { sloth_severity: 'page', category: 'availability', severity: 'critical', routing_key: 'shop-oncall' },
      annotations: {
        title: '(page) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is too fast.',
        summary: '{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected.',
        runbook: 'https://runbooks.example.org/shop-api/availability',
        escalation: 'call the shop on-call',
      },
    });
    expect(ticket?.expr).toBe(expr(['2h', '1d', 3], ['6h', '3d', 1]));
    expect(ticket?.labels).toEqual({ sloth_severity: 'ticket', category: 'availability', severity: 'warning', slack_channel: '#shop-alerts' });
    expect(alertsOf('sloth', get('shop-api-payment-calls')).map((r) => r.labels.sloth_severity)).toEqual(['page']);
  });

  it('refuses what it cannot honour, each problem at its path', () => {
    expect(problemsOf(() => parseSloSpecs(slothFile({ sli: { plugin: { id: 'sloth-common/kubernetes/apiserver/availability' } } }), 's.yaml'))).toEqual([
      "s.yaml: slos.0.sli.plugin: Sloth SLI plugins are Go code that runs inside Sloth; plugin 'sloth-common/kubernetes/apiserver/availability' cannot run here: write its queries as sli.events (error_query, total_query) or sli.raw (error_ratio_query)",
    ]);
    expect(problemsOf(() => parseSloSpecs(slothFile({ sli: events }), 's.yaml'))).toEqual([
      's.yaml: slos.0.alerting.name: required (Sloth names the page and ticket alerts after it) unless page_alert and ticket_alert both say disable: true',
    ]);
    expect(problemsOf(() => parseSloSpecs(slothFile({ objective: 100, sli: events, alerting: { name: 'A', page_alert: { labels: { sloth_id: 'x' } } } }), 's.yaml'))).toEqual([
      's.yaml: slos.0.objective: must be below 100 (a percentage, e.g. 99.9; 100 leaves no error budget)',
      's.yaml: slos.0.alerting.page_alert.labels.sloth_id: is reserved (names starting with __ or sloth_, and alertname, slo_tier, slo_long_window, slo_short_window, slo_burn_factor, slo_time_to_exhaustion)',
    ]);
    expect(problemsOf(() => parseSloSpecs({ ...slothFile({ sli: events }), version: 'prometheus/v2' }, 's.yaml'))[0]).toMatch(/^s\.yaml: version: version must be 'prometheus\/v1'/);
    expect(problemsOf(() => parseSloSpecs(slothFile({ sli: { raw: { error_ratio_query: 'x_ratio' } }, alerting: { name: 'A' } }), 's.yaml'))).toEqual([
      's.yaml: slos.0.sli.raw.error_ratio_query: write the range as [{{.window}}], as Sloth requires',
    ]);
  });
});

describe('OpenSLO v1alpha, as Sloth reads it', () => {
  const doc = (spec: Record<string, unknown> = {}) => ({
    apiVersion: 'openslo/v1alpha',
    kind: 'SLO',
    metadata: { name: 'reads' },
    spec: {
      service: 'catalog',
      budgetingMethod: 'Occurrences',
      timeWindows: [{ count: 28, unit: 'Day', isRolling: true }],
      objectives: [0.99, 0.999].map((target) => ({
        target,
        ratioMetrics: {
          good: { source: 'prometheus', queryType: 'promql', query: 'sum(rate(x_total{code!~"5.."}[{{.window}}]))' },
          total: { source: 'prometheus', queryType: 'promql', query: 'sum(rate(x_total[{{.window}}]))' },
        },
      })),
      ...spec,
    },
  });

  it('makes one SLO per objective, named <name>-<index> as Sloth names them, over its window', () => {
    const read = parseSloSpecs(doc(), 'o.yaml');
    expect(read.map((slo) => [slo.id, slo.name, slo.objective, slo.periodMs, slo.sli.form, slo.format])).toEqual([
      ['catalog-reads-0', 'reads-0', 0.99, 28 * 86_400_000, 'good', 'openslo/v1alpha'],
      ['catalog-reads-1', 'reads-1', 0.999, 28 * 86_400_000, 'good', 'openslo/v1alpha'],
    ]);
    expect(read[0]?.alerting.tiers.map((t) => t.burnFactor)).toEqual([13.44, 5.6, 2.8, 0.933333333333]);
    expect(get('catalog-catalog-reads-0').objective).toBe(0.999);
  });

  it('says what it does not read', () => {
    expect(problemsOf(() => parseSloSpecs(doc({ timeWindows: [{ count: 1, unit: 'Month' }] }), 'o.yaml'))).toEqual([
      'o.yaml: spec.timeWindows.0.unit: a Month has no fixed length; write the window in days (count: 30, unit: Day)',
    ]);
    const bad = doc();
    (bad.spec.objectives[0] as { ratioMetrics: { good: { source: string } } }).ratioMetrics.good.source = 'datadog';
    expect(problemsOf(() => parseSloSpecs(bad, 'o.yaml'))).toEqual(["o.yaml: spec.objectives.0.ratioMetrics.good.source: must be 'prometheus' or 'sloth' (the sources Sloth reads)"]);
  });
});

describe('artefacts from the Sloth fixtures', () => {
  it('get promtool tests for every events SLI, regular expressions and count-minus-bucket latency included; only the raw SLI goes without', () => {
    for (const alertStyle of ['tiers', 'sloth'] as const) {
      const rendered = renderSloArtifacts(slos, { alertStyle });
      expect(rendered.warnings).toEqual([expect.stringMatching(/^no promtool tests for shop-api-probe-success: .*a raw error-ratio SLI/)]);
      expect([...rendered.files.keys()].filter((f) => f.startsWith('tests/'))).toEqual(
        ['catalog-catalog-reads-0', 'shop-api-payment-calls', 'shop-api-requests-availability', 'shop-api-requests-latency'].flatMap((id) => [`tests/${id}.test.yaml`, `tests/${id}.days.test.yaml`]),
      );
    }
  });
});

const promtool = await findTool('promtool');
if (promtool === undefined) console.warn('SKIPPED: promtool is not on PATH (apt-get install prometheus); the Sloth fixtures are not checked by Prometheus here.');

describe.skipIf(promtool === undefined).each([['tiers'], ['sloth']] as const)('promtool over the Sloth fixtures, alert style %s', (alertStyle) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `slo-sloth-${alertStyle}-`));
    await generateSloArtifacts({ specsDir: FIXTURES, outDir: dir, alertStyle, log: null });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('checks the rules clean', async () => {
    const result = await promtoolCheckRules(promtool as string, dir);
    expect(result.clean, result.output).toBe(true);
  });

  it('passes every generated story: the alerts fire with the page and ticket labels the file gives', async () => {
    const run = await promtoolTestRules(promtool as string, dir);
    expect(run.ok, run.output).toBe(true);
    expect(run.output.match(/SUCCESS/g)?.length).toBe(8);
  }, 180_000);
});

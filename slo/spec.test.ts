import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SloError } from './errors.ts';
import { crossCheckSlos, loadSloSpecs, parseSloDocuments, parseSloSpec } from './spec.ts';

const DAY = 86_400_000;

function compact(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'faultline/v1',
    kind: 'SLO',
    service: 'checkout',
    name: 'availability',
    description: 'checkout answers',
    objective: '99.9%',
    window: '30d',
    sli: { availability: { job: 'checkout', routes: ['/checkout'] } },
    ...overrides,
  };
}

function openSlo(spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'openslo/v1',
    kind: 'SLO',
    metadata: { name: 'availability', labels: { team: ['edge', 'shop'] } },
    spec: {
      description: 'gateway answers',
      service: 'gateway',
      indicator: {
        metadata: { name: 'gateway-ok' },
        spec: {
          ratioMetric: {
            counter: true,
            good: { metricSource: { type: 'Prometheus', spec: { query: 'sum(rate(x_count{job="gateway",code!~"5.."}[{{.window}}]))' } } },
            total: { metricSource: { type: 'Prometheus', spec: { query: 'x_count{job="gateway"}' } } },
          },
        },
      },
      timeWindow: [{ duration: '28d', isRolling: true }],
      budgetingMethod: 'Occurrences',
      objectives: [{ targetPercent: 99.5 }],
      ...spec,
    },
  };
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof SloError) return error.problems;
    throw error;
  }
  throw new Error('expected an SloError');
}

describe('the compact form', () => {
  it('builds availability queries from the conventions, with Sloth window placeholders', () => {
    const slo = parseSloSpec(compact(), 'x.yaml');
    expect(slo.id).toBe('checkout-availability');
    expect(slo.objective).toBe(0.999);
    expect(slo.errorBudget).toBe(0.001);
    expect(slo.periodMs).toBe(30 * DAY);
    expect(slo.sli).toEqual({
      kind: 'availability',
      form: 'bad',
      events: 'sum(rate(http_server_request_duration_seconds_count{job="checkout",http_route="/checkout",http_response_status_code=~"5.."}[{{.window}}]))',
      total: 'sum(rate(http_server_request_duration_seconds_count{job="checkout",http_route="/checkout"}[{{.window}}]))',
    });
    expect(slo.alerting.name).toBe('CheckoutAvailabilityBudgetBurn');
    expect(slo.alerting.tiers.map((t) => `${t.name}:${t.burnFactor}`)).toEqual(['page-1h:14.4', 'page-6h:6', 'ticket-1d:3', 'ticket-3d:1']);
    expect(Object.isFrozen(slo.alerting.tiers[0])).toBe(true);
  });

  it('reads latency from the bucket at the threshold and the count', () => {
    const slo = parseSloSpec(compact({ name: 'latency', sli: { latency: { job: 'checkout', threshold: '250ms', excludeRoutes: ['/healthz', '/a.b'] } } }), 'x.yaml');
    expect(slo.sli.form).toBe('good');
    expect(slo.sli.thresholdSeconds).toBe(0.25);
    expect(slo.sli.events).toBe('sum(rate(http_server_request_duration_seconds_bucket{job="checkout",http_route!~"/healthz|/a\\\\.b",le="0.25"}[{{.window}}]))');
  });

  it('counts dependency calls by outcome', () => {
    const slo = parseSloSpec(compact({ name: 'payment', sli: { calls: { job: 'checkout', dependency: 'payment', good: ['success', 'fallback'] } } }), 'x.yaml');
    expect(slo.sli.events).toBe('sum(rate(resilience_calls_total{job="checkout",dependency="payment",outcome=~"success|fallback"}[{{.window}}]))');
    expect(slo.sli.total).toBe('sum(rate(resilience_calls_total{job="checkout",dependency="payment"}[{{.window}}]))');
  });

  it('turns custom alert windows into tiers, from a budget share or a factor', () => {
    const slo = parseSloSpec(
      compact({
        window: '28d',
        alerting: { windows: [{ severity: 'page', long: '1h', budgetConsumed: '5%', for: '2m' }, { severity: 'ticket', long: '3d', short: '6h', burnFactor: 1 }] },
      }),
      'x.yaml',
    );
    expect(slo.alerting.tiers).toEqual([
      { name: 'page-1h', severity: 'page', longMs: 3_600_000, shortMs: 300_000, burnFactor: 33.6, budgetConsumed: 0.05, forMs: 120_000, labels: {}, annotations: {} },
      { name: 'ticket-3d', severity: 'ticket', longMs: 3 * DAY, shortMs: 6 * 3_600_000, burnFactor: 1, budgetConsumed: 0.107142857143, forMs: 0, labels: {}, annotations: {} },
    ]);
  });

  it('reports every problem at once, each with its path', () => {
    const problems = problemsOf(() =>
      parseSloSpec(compact({ objective: '100%', description: undefined, sli: { availability: { job: 'checkout', rotes: ['/x'] } }, extra: 1 }), 'specs/x.yaml'),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^specs\/x\.yaml: description: /),
        expect.stringMatching(/^specs\/x\.yaml: objective: must be above 0% and below 100%/),
        expect.stringMatching(/^specs\/x\.yaml: sli\.availability: Unrecognized key: "rotes"/),
        expect.stringMatching(/^specs\/x\.yaml: \(root\): Unrecognized key: "extra"|^specs\/x\.yaml: Unrecognized key/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });

  it('refuses a latency threshold that is not a bucket edge, naming the edges', () => {
    expect(problemsOf(() => parseSloSpec(compact({ sli: { latency: { job: 'checkout', threshold: '300ms' } } }), 'x.yaml'))).toEqual([
      'x.yaml: sli.latency.threshold: 300ms is not a bucket edge of http_server_request_duration_seconds (edges: 5ms, 10ms, 25ms, 50ms, 75ms, 100ms, 250ms, 500ms, 750ms, 1s, 2.5s, 5s, 7.5s, 10s)',
    ]);
  });

  it('wants exactly one SLI kind, and good or bad (not both) for a ratio', () => {
    expect(problemsOf(() => parseSloSpec(compact({ sli: {} }), 'x.yaml'))).toEqual(['x.yaml: sli: give exactly one of availability, latency, calls, ratio']);
    expect(problemsOf(() => parseSloSpec(compact({ sli: { ratio: { good: 'a', bad: 'b', total: 'c' } } }), 'x.yaml'))).toEqual([
      'x.yaml: sli.ratio: give exactly one of good and bad, with total',
    ]);
  });

  it('checks alert windows against each other and the period', () => {
    const problems = problemsOf(() =>
      parseSloSpec(
        compact({
          window: '7d',
          alerting: {
            windows: [
              { severity: 'page', long: '1h', short: '2h', burnFactor: 10 },
              { severity: 'ticket', long: '8d', burnFactor: 1 },
              { severity: 'page', long: '1h', budgetConsumed: '2%', burnFactor: 3 },
            ],
          },
        }),
        'x.yaml',
      ),
    );
    expect(problems).toEqual([
      'x.yaml: alerting.windows.2: give exactly one of budgetConsumed and burnFactor',
    ]);
    const second = problemsOf(() =>
      parseSloSpec(compact({ window: '7d', alerting: { windows: [{ severity: 'page', long: '1h', short: '2h', burnFactor: 10 }, { severity: 'ticket', long: '8d', burnFactor: 1 }, { severity: 'page', long: '1h', burnFactor: 3 }] } }), 'x.yaml'),
    );
    expect(second).toEqual([
      'x.yaml: alerting.windows.0: the short window (2h) must be shorter than the long one (1h)',
      'x.yaml: alerting.windows.1: the long window (8d) is longer than the SLO period (7d)',
      'x.yaml: alerting.windows.2: a second page tier over 1h; each tier needs its own long window',
    ]);
  });

  it('keeps the labels it sets itself out of specs', () => {
    expect(problemsOf(() => parseSloSpec(compact({ labels: { slo_tier: 'x', sloth_id: 'y' } }), 'x.yaml'))).toEqual([
      expect.stringMatching(/^x\.yaml: labels\.slo_tier: is reserved/),
      expect.stringMatching(/^x\.yaml: labels\.sloth_id: is reserved/),
    ]);
  });

  it('leaves `tier` and `severity` to the user: the generator labels its tiers slo_tier', () => {
    const slo = parseSloSpec(compact({ labels: { tier: '2' }, alerting: { labels: { severity: 'critical' } } }), 'x.yaml');
    expect(slo.labels).toEqual({ tier: '2' });
    expect(slo.alerting.labels).toEqual({ severity: 'critical' });
  });

  it('takes per-severity labels and annotations, and drops a disabled severity', () => {
    const slo = parseSloSpec(
      compact({
        alerting: {
          labels: { team: 'shop' },
          page: { labels: { severity: 'critical', route: 'pager' }, annotations: { runbook: 'https://runbooks/page' } },
          ticket: { disable: true },
        },
      }),
      'x.yaml',
    );
    expect(slo.alerting.tiers.map((t) => [t.name, t.labels, t.annotations])).toEqual([
      ['page-1h', { severity: 'critical', route: 'pager' }, { runbook: 'https://runbooks/page' }],
      ['page-6h', { severity: 'critical', route: 'pager' }, { runbook: 'https://runbooks/page' }],
    ]);
    expect(problemsOf(() => parseSloSpec(compact({ alerting: { windows: [{ severity: 'ticket', long: '1d', burnFactor: 3 }], ticket: { disable: true } } }), 'x.yaml'))).toEqual([
      'x.yaml: alerting.ticket.disable: alerting.windows.0 is a ticket tier; drop it from windows or keep the ticket alerts',
    ]);
  });
});

describe('the OpenSLO v1 subset', () => {
  it('reads a ratio indicator, wrapping a bare selector, with the period its own alert factors', () => {
    const slo = parseSloSpec(openSlo(), 'g.yaml');
    expect(slo.id).toBe('gateway-availability');
    expect(slo.objective).toBe(0.995);
    expect(slo.labels).toEqual({ team: 'edge,shop' });
    expect(slo.sli.form).toBe('good');
    expect(slo.sli.total).toBe('sum(rate(x_count{job="gateway"}[{{.window}}]))');
    expect(slo.alerting.tiers.map((t) => t.burnFactor)).toEqual([13.44, 5.6, 2.8, 0.933333333333]);
  });

  it("maps burn-rate alert conditions to tiers (short window a twelfth of the lookback), with their policy's labels", () => {
    const condition = (severity: string, threshold: number, lookbackWindow: string, alertAfter?: string) => ({
      kind: 'AlertCondition',
      metadata: { name: `${severity}-${lookbackWindow}` },
      spec: { severity, condition: { kind: 'burnrate', op: 'gt', threshold, lookbackWindow, ...(alertAfter ? { alertAfter } : {}) } },
    });
    const slo = parseSloSpec(
      openSlo({ alertPolicies: [{ kind: 'AlertPolicy', metadata: { name: 'p', labels: { route: ['pager'] }, annotations: { runbook: 'r' } }, spec: { alertWhenBreaching: true, conditions: [condition('page', 13.44, '1h', '2m'), condition('ticket', 2.8, '1d')] } }] }),
      'g.yaml',
    );
    expect(slo.alerting.tiers).toEqual([
      { name: 'page-1h', severity: 'page', longMs: 3_600_000, shortMs: 300_000, burnFactor: 13.44, budgetConsumed: 0.02, forMs: 120_000, labels: { route: 'pager' }, annotations: { runbook: 'r' } },
      { name: 'ticket-1d', severity: 'ticket', longMs: DAY, shortMs: 7_200_000, burnFactor: 2.8, budgetConsumed: 0.1, forMs: 0, labels: { route: 'pager' }, annotations: { runbook: 'r' } },
    ]);
  });

  it('reports what the subset does not support, with paths', () => {
    const doc = openSlo({
      timeWindow: [{ duration: '1M', isRolling: false }],
      budgetingMethod: 'Timeslices',
      objectives: [{ target: 0.99, targetPercent: 99 }],
    });
    const problems = problemsOf(() => parseSloSpec(doc, 'g.yaml'));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('spec.timeWindow.0.duration: '),
        expect.stringContaining('spec.timeWindow.0.isRolling: only rolling windows are supported'),
        expect.stringContaining('spec.budgetingMethod: only Occurrences budgeting is supported'),
        expect.stringContaining('spec.objectives.0: give exactly one of target and targetPercent'),
      ]),
    );
  });

  it('wants the window placeholder unless the query is a bare selector', () => {
    const doc = openSlo();
    const spec = doc.spec as { indicator: { spec: { ratioMetric: { good: { metricSource: { spec: { query: string } } } } } } };
    spec.indicator.spec.ratioMetric.good.metricSource.spec.query = 'sum(rate(x_count{job="gateway"}[5m]))';
    expect(problemsOf(() => parseSloSpec(doc, 'g.yaml'))).toEqual([
      expect.stringMatching(/^g\.yaml: spec\.indicator\.spec\.ratioMetric\.good\.metricSource\.spec\.query: write the range as \[\{\{\.window\}\}\]/),
    ]);
  });

  it('wants queries that add up to one series', () => {
    const doc = openSlo();
    const spec = doc.spec as { indicator: { spec: { ratioMetric: { good: { metricSource: { spec: { query: string } } } } } } };
    spec.indicator.spec.ratioMetric.good.metricSource.spec.query = 'sum by (job) (rate(x_count{code!~"5.."}[{{.window}}]))';
    expect(problemsOf(() => parseSloSpec(doc, 'g.yaml'))).toEqual([
      'g.yaml: spec.indicator.spec.ratioMetric.good.metricSource.spec.query: must add up to one series (the rules divide one by the other); drop by(...) / without(...)',
    ]);
  });

  it('names the spelling it expects when apiVersion is wrong', () => {
    expect(problemsOf(() => parseSloSpec({ ...openSlo(), apiVersion: 'openslo/v2' }, 'g.yaml'))).toEqual([
      "g.yaml: apiVersion: apiVersion must be 'openslo/v1' (OpenSLO subset), 'openslo/v1alpha' (OpenSLO as Sloth reads it) or 'faultline/v1' (compact form); Sloth's own files say version: prometheus/v1 instead",
    ]);
  });
});

describe('files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slo-specs-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads several documents per file and names the document at fault', () => {
    const text = 'apiVersion: faultline/v1\nkind: SLO\nservice: a\nname: b\ndescription: d\nobjective: 99%\nwindow: 30d\nsli: { availability: { job: a } }\n---\napiVersion: faultline/v1\nkind: SLO\n';
    expect(problemsOf(() => parseSloDocuments(text, 'a.yaml'))[0]).toMatch(/^a\.yaml\[1\]: service: /);
    expect(parseSloDocuments(text.split('---')[0] as string, 'a.yaml')).toHaveLength(1);
  });

  it('reports malformed YAML with its line', () => {
    expect(problemsOf(() => parseSloDocuments('a: 1\na: 2\n', 'a.yaml'))[0]).toMatch(/^a\.yaml: malformed YAML at line 2: /);
  });

  it('refuses two SLOs with one id, across files', async () => {
    const one = 'apiVersion: faultline/v1\nkind: SLO\nservice: a\nname: b\ndescription: d\nobjective: 99%\nwindow: 30d\nsli: { availability: { job: a } }\n';
    await writeFile(join(dir, '1.yaml'), one);
    await writeFile(join(dir, '2.yml'), one);
    await expect(loadSloSpecs(dir)).rejects.toThrow(/SLO id 'a-b' is also defined in .*1\.yaml/);
    expect(crossCheckSlos([])).toEqual([]);
  });

  it('says where it looked when there is nothing to read', async () => {
    await expect(loadSloSpecs(join(dir, 'missing'))).rejects.toMatchObject({ code: 'FL_SLO_SPEC_NOT_FOUND' });
  });
});

import { describe, expect, it } from 'vitest';
import { checkPromql } from '../../dashboards/promql-check.ts';
import { findTool } from '../../slo/tools.ts';
import type { PrometheusQueries, PrometheusSample } from '../monitoring.ts';
import { createLiveSampler, FIGURE_LABEL, LIVE_QUERIES, LIVE_QUERY, readLiveFigures, type LiveFigures } from './live-state.ts';

/** A Prometheus that answers the one live query with canned samples, each tagged with its figure as label_replace tags it. */
function fakePrometheus(answers: Partial<Record<keyof typeof LIVE_QUERIES, PrometheusSample[]>>): PrometheusQueries & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async query(expr) {
      asked.push(expr);
      if (expr !== LIVE_QUERY) return [];
      return Object.entries(answers).flatMap(([figure, samples]) => samples.map((sample) => ({ ...sample, labels: { ...sample.labels, [FIGURE_LABEL]: figure } })));
    },
    async queryRange() {
      return [];
    },
  };
}

const sources = (prometheus?: PrometheusQueries) => ({
  ...(prometheus ? { prometheus } : {}),
  runningProcesses: () => new Set(['gateway', 'checkout', 'payment-1', 'bank', 'inventory', 'catalog-1', 'catalog-2', 'cart', 'recommendation']),
  pausedInstances: () => new Set(['bank']),
  now: () => 1_000_000,
});

describe('the live figures', () => {
  it('without Prometheus, still give every instance its state and say monitoring is off', async () => {
    const figures = await readLiveFigures(sources());
    expect(figures.monitoring).toBe(false);
    const payment = figures.services.find((s) => s.name === 'payment');
    expect(payment?.instances).toEqual([
      { id: 'payment-1', state: 'up' },
      { id: 'payment-2', state: 'down' },
    ]);
    expect(figures.services.find((s) => s.name === 'bank')?.instances).toEqual([{ id: 'bank', state: 'paused' }]);
    expect(figures.edges.map((e) => `${e.caller}->${e.dependency}`)).toContain('checkout->payment');
  });

  it('put each series on its edge, service and SLO', async () => {
    const prometheus = fakePrometheus({
      edgeRate: [{ labels: { job: 'payment', server_address: 'bank' }, value: 20 }],
      edgeErrors: [{ labels: { job: 'payment', server_address: 'bank' }, value: 5 }],
      edgeP95: [{ labels: { job: 'payment', server_address: 'bank' }, value: 0.25 }],
      retries: [{ labels: { job: 'checkout', dependency: 'payment' }, value: 3 }],
      breakers: [{ labels: { job: 'payment', dependency: 'bank', state: 'open' }, value: 1 }],
      ejected: [{ labels: { job: 'checkout', dependency: 'payment', endpoint: 'payment-2' }, value: 1 }],
      serviceRate: [{ labels: { job: 'checkout' }, value: 10 }],
      serviceErrors: [{ labels: { job: 'checkout' }, value: 1 }],
      serviceP95: [{ labels: { job: 'checkout' }, value: Number.NaN }],
      sloErrorRatios: [
        { labels: { __name__: 'slo:sli_error:ratio_rate5m', sloth_id: 'checkout-availability', sloth_window: '5m' }, value: 0.02 },
        { labels: { __name__: 'slo:sli_error:ratio_rate1h', sloth_id: 'checkout-availability', sloth_window: '1h' }, value: 0.016 },
      ],
      sloBudget: [{ labels: { sloth_id: 'checkout-availability' }, value: 0.001 }],
      sloObjective: [{ labels: { sloth_id: 'checkout-availability', sloth_service: 'checkout' }, value: 0.999 }],
      sloBudgetLeft: [{ labels: { sloth_id: 'checkout-availability' }, value: 0.4 }],
      alerts: [{ labels: { alertname: 'CheckoutAvailabilityBudgetBurn', alertstate: 'firing', sloth_severity: 'page', slo_tier: 'page-1h' }, value: 1 }],
    });
    const figures = await readLiveFigures({
      ...sources(prometheus),
      alertRules: async () => [
        { sloId: 'checkout-availability', tier: 'page-1h', severity: 'page', factor: 14.4, longWindow: '1h', shortWindow: '5m' },
        { sloId: 'checkout-availability', tier: 'page-6h', severity: 'page', factor: 6, longWindow: '6h', shortWindow: '30m' },
      ],
    });
    const bank = figures.edges.find((e) => e.caller === 'payment' && e.dependency === 'bank');
    expect(bank).toMatchObject({ rate: 20, errorRatio: 0.25, p95Ms: 250, breaker: 'open' });
    expect(figures.edges.find((e) => e.caller === 'checkout' && e.dependency === 'payment')).toMatchObject({ retriesPerSecond: 3, ejected: ['payment-2'] });
    expect(figures.services.find((s) => s.name === 'checkout')).toMatchObject({ rate: 10, errorRatio: 0.1, p95Ms: null });
    const slo = figures.slos[0];
    expect(slo).toMatchObject({ id: 'checkout-availability', service: 'checkout', objective: 0.999, budgetLeft: 0.4 });
    expect(slo?.windows.map((w) => w.window)).toEqual(['5m', '1h']);
    expect(slo?.windows[0]?.burnRate).toBeCloseTo(20, 9);
    // 20x over 5m and 16x over 1h: the 14.4x page tier burns; the 6x tier has no data for its windows.
    expect(slo?.tiers.map((t) => [t.tier, t.burning])).toEqual([
      ['page-1h', true],
      ['page-6h', false],
    ]);
    expect(figures.alerts).toEqual([expect.objectContaining({ name: 'CheckoutAvailabilityBudgetBurn', state: 'firing', severity: 'page' })]);
    // One query a reading: Prometheus' cost is per query (docs/benchmarks.md).
    expect(prometheus.asked).toEqual([LIVE_QUERY]);
  });

  it('say what went wrong when Prometheus does not answer, and keep the instance states', async () => {
    const broken: PrometheusQueries = {
      query: async () => {
        throw new Error('connection refused');
      },
      queryRange: async () => [],
    };
    const figures = await readLiveFigures(sources(broken));
    expect(figures.problem).toMatch(/connection refused/);
    expect(figures.services.length).toBeGreaterThan(0);
  });

  it('are read once per tick for every subscriber, and not at all without one', async () => {
    let reads = 0;
    const sampler = createLiveSampler(async () => {
      reads++;
      return { timeMs: reads } as LiveFigures;
    }, 20);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(reads).toBe(0);
    const seen: number[][] = [[], [], []];
    const unsubscribe = seen.map((list) => sampler.subscribe((f) => list.push(f.timeMs)));
    // However busy the machine: wait for three readings, not for a time.
    for (let waited = 0; reads < 3 && waited < 10_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
    unsubscribe.forEach((u) => u());
    const after = reads;
    // Three tabs, one reading per tick: each tab saw the same readings, and there were as many readings as one tab saw.
    expect(after).toBeGreaterThanOrEqual(3);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    expect(seen[0]?.length).toBeGreaterThanOrEqual(after - 1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(reads).toBeLessThanOrEqual(after + 1);
    sampler.stop();
  });

  it('are PromQL that Prometheus parses', async () => {
    const promtool = await findTool('promtool');
    if (promtool === undefined) {
      expect.soft(promtool, 'promtool (Debian prometheus) not installed: the queries were not parsed').toBeDefined();
      return;
    }
    const check = await checkPromql(promtool, [...Object.entries(LIVE_QUERIES).map(([panel, expr]) => ({ dashboard: 'console', panel, expr })), { dashboard: 'console', panel: 'all in one', expr: LIVE_QUERY }]);
    expect(check.problems).toEqual([]);
    expect(check.ok).toBe(true);
  });
});

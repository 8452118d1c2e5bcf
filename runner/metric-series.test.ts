import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABEL, METRIC } from '../demo-services/kit/conventions.ts';
import { findTool, runTool } from '../slo/tools.ts';
import { breakerStateQuery, metricSeriesQueries, queryMetricSeries } from './metric-series.ts';
import type { PrometheusSeries } from './monitoring.ts';

describe('metric series from the run\'s Prometheus', () => {
  it('asks for each series by the conventions\' names and labels, shedding apart from bulkhead rejections', () => {
    const q = metricSeriesQueries();
    expect(q.retries).toBe(`sum(irate(${METRIC.resilienceRetries}[3s])) or vector(0)`);
    expect(q.attemptsPerCall).toContain(`${METRIC.resilienceAttempts}_sum`);
    expect(q.bulkheadRejected).toContain(`${LABEL.outcome}="rejected",${LABEL.dependency}!="gateway"`);
    expect(q.shed).toContain(`${LABEL.outcome}="rejected",${LABEL.dependency}="gateway"`);
    expect(q.rateLimited).toContain(METRIC.resilienceRateLimited);
  });

  it('lays every series on one axis of whole seconds, null where Prometheus had nothing or the query failed', async () => {
    const from = 1_700_000_000_300;
    const asked: Array<[string, number, number, number]> = [];
    const series = await queryMetricSeries(
      {
        async queryRange(expr, startMs, endMs, stepMs) {
          asked.push([expr, startMs, endMs, stepMs]);
          if (expr === metricSeriesQueries().rateLimited) throw new Error('boom');
          if (expr === metricSeriesQueries().attemptsPerCall) return [{ labels: {}, points: [[1_700_000_002_000, 1.5], [1_700_000_003_000, Number.NaN]] }] satisfies PrometheusSeries[];
          return [{ labels: {}, points: [[1_700_000_001_000, 0], [1_700_000_002_000, 2.25], [1_700_000_003_000, 4]] }] satisfies PrometheusSeries[];
        },
      },
      from,
      from + 3_000,
    );
    expect(series.t).toEqual([1_700_000_001, 1_700_000_002, 1_700_000_003]);
    expect(asked[0]?.slice(1)).toEqual([1_700_000_001_000, 1_700_000_003_000, 1_000]);
    expect(series.series.retries).toEqual([0, 2.25, 4]);
    expect(series.series.attemptsPerCall).toEqual([null, 1.5, null]);
    expect(series.series.rateLimited).toEqual([null, null, null]);
  });
});

describe('the breaker state query', () => {
  it('gives each caller and dependency the worst state over its instances, evaluated by promtool', async (context) => {
    const promtool = await findTool('promtool');
    if (!promtool) {
      context.skip('promtool is not installed (Debian: prometheus)');
      return;
    }
    const state = (job: string, instance: string, name: string, values: string) =>
      `      - series: '${METRIC.resilienceCircuitState}{job="${job}",instance="${instance}",${LABEL.dependency}="payment",${LABEL.state}="${name}"}'\n        values: '${values}'`;
    // checkout-1 goes closed -> open -> half_open -> closed; checkout-2 stays closed; cart stays closed.
    const series = [
      state('checkout', 'checkout-1', 'closed', '1 0 0 1'),
      state('checkout', 'checkout-1', 'open', '0 1 0 0'),
      state('checkout', 'checkout-1', 'half_open', '0 0 1 0'),
      state('checkout', 'checkout-2', 'closed', '1 1 1 1'),
      state('checkout', 'checkout-2', 'open', '0 0 0 0'),
      state('checkout', 'checkout-2', 'half_open', '0 0 0 0'),
      state('cart', 'cart-1', 'closed', '1 1 1 1'),
      state('cart', 'cart-1', 'open', '0 0 0 0'),
      state('cart', 'cart-1', 'half_open', '0 0 0 0'),
    ].join('\n');
    const at = (minute: number, checkout: number) =>
      `      - expr: '${breakerStateQuery()}'\n        eval_time: ${minute}m\n        exp_samples:\n          - labels: '{job="cart",${LABEL.dependency}="payment"}'\n            value: 0\n          - labels: '{job="checkout",${LABEL.dependency}="payment"}'\n            value: ${checkout}`;
    const dir = await mkdtemp(join(tmpdir(), 'breaker-query-'));
    try {
      const file = join(dir, 'breaker.test.yaml');
      await writeFile(file, `rule_files: []\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n${series}\n    promql_expr_test:\n${[at(0, 0), at(1, 2), at(2, 1), at(3, 0)].join('\n')}\n`);
      const run = await runTool(promtool, ['test', 'rules', file]);
      expect(run.output).toContain('SUCCESS');
      expect(run.exitCode).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keeps one series per caller and dependency, sorted', async () => {
    const series = await queryMetricSeries(
      {
        async queryRange(expr) {
          if (expr !== breakerStateQuery()) return [];
          return [
            { labels: { job: 'payment', [LABEL.dependency]: 'bank' }, points: [[1_700_000_001_000, 0]] },
            { labels: { job: 'checkout', [LABEL.dependency]: 'payment' }, points: [[1_700_000_001_000, 2]] },
          ] satisfies PrometheusSeries[];
        },
      },
      1_700_000_001_000,
      1_700_000_001_000,
    );
    expect(series.breakers).toEqual([
      { service: 'checkout', dependency: 'payment', values: [2] },
      { service: 'payment', dependency: 'bank', values: [0] },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { LABEL, METRIC } from '../demo-services/kit/conventions.ts';
import { metricSeriesQueries, queryMetricSeries } from './metric-series.ts';
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

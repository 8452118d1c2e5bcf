// Per-second series the run's Prometheus holds and the load generator cannot
// see, for summary.json and the report: retries and attempts per call inside
// the shop, calls a bulkhead rejected, requests rate-limited and requests the
// gateway shed, and the state of every breaker in the shop (caller and
// dependency). One range query each over the run, one-second steps; irate
// over a few scrapes, so a counter reset (a restarted process) is not a spike.
// Names and labels come from demo-services/kit/conventions.ts.

import { LABEL, METRIC } from '../demo-services/kit/conventions.ts';
import type { PrometheusQueries } from './monitoring.ts';

/** The dependency name under which the gateway counts the requests it sheds (demo-services/gateway/main.ts). */
export const SHEDDING_DEPENDENCY = 'gateway';

export type MetricSeriesName = 'retries' | 'attemptsPerCall' | 'bulkheadRejected' | 'rateLimited' | 'shed';

/** Columns on one axis of epoch seconds; null where Prometheus had no value (no calls for attempts per call). */
export interface MetricSeries {
  stepMs: number;
  /** Epoch seconds. */
  t: number[];
  series: Record<MetricSeriesName, Array<number | null>>;
  /** The PromQL behind each column, to check or rerun against runs/<id>/monitoring/prometheus-data. */
  queries: Record<MetricSeriesName, string>;
  /** Every breaker's state each second (0 closed, 1 half-open, 2 open; the worst over the caller's instances), by caller and dependency. */
  breakers?: BreakerSeries[];
  breakerQuery?: string;
}

export interface BreakerSeries {
  service: string;
  dependency: string;
  values: Array<number | null>;
}

/** The worst state of each caller's breaker towards each dependency: open counts 2, half-open 1, closed 0. */
export function breakerStateQuery(): string {
  const state = (name: string) => `${METRIC.resilienceCircuitState}{${LABEL.state}="${name}"}`;
  return `max by (job, ${LABEL.dependency}) (2 * ${state('open')} or ${state('half_open')})`;
}

/** irate over this window: at one scrape a second it always holds two samples. */
const WINDOW = '3s';

function perSecond(metric: string, matchers: string[] = []): string {
  return `sum(irate(${metric}${matchers.length ? `{${matchers.join(',')}}` : ''}[${WINDOW}])) or vector(0)`;
}

export function metricSeriesQueries(): Record<MetricSeriesName, string> {
  const rejected = `${LABEL.outcome}="rejected"`;
  return {
    retries: perSecond(METRIC.resilienceRetries),
    attemptsPerCall: `sum(irate(${METRIC.resilienceAttempts}_sum[${WINDOW}])) / sum(irate(${METRIC.resilienceAttempts}_count[${WINDOW}]))`,
    bulkheadRejected: perSecond(METRIC.resilienceCalls, [rejected, `${LABEL.dependency}!="${SHEDDING_DEPENDENCY}"`]),
    rateLimited: perSecond(METRIC.resilienceRateLimited),
    shed: perSecond(METRIC.resilienceCalls, [rejected, `${LABEL.dependency}="${SHEDDING_DEPENDENCY}"`]),
  };
}

/** The series over [fromMs, toMs]; a query that fails leaves its column null (said so by the report as "no data"). */
export async function queryMetricSeries(prometheus: Pick<PrometheusQueries, 'queryRange'>, fromMs: number, toMs: number, stepMs = 1_000): Promise<MetricSeries> {
  const first = Math.ceil(fromMs / 1_000);
  const t: number[] = [];
  for (let s = first; s * 1_000 <= toMs; s += stepMs / 1_000) t.push(s);
  const queries = metricSeriesQueries();
  const names = Object.keys(queries) as MetricSeriesName[];
  const range = (expr: string) => prometheus.queryRange(expr, first * 1_000, (t.at(-1) ?? first) * 1_000, stepMs).catch(() => []);
  const columnOf = (points: ReadonlyArray<[number, number]>): Array<number | null> => {
    const column: Array<number | null> = t.map(() => null);
    for (const point of points) {
      const i = Math.round((point[0] / 1_000 - first) / (stepMs / 1_000));
      if (i >= 0 && i < t.length && Number.isFinite(point[1])) column[i] = Math.round(point[1] * 1_000) / 1_000;
    }
    return column;
  };
  const breakerQuery = breakerStateQuery();
  const [columns, breakerResult] = await Promise.all([
    Promise.all(names.map(async (name) => [name, columnOf((await range(queries[name]))[0]?.points ?? [])] as const)),
    range(breakerQuery),
  ]);
  const breakers = breakerResult
    .map((series) => ({ service: series.labels.job ?? '', dependency: series.labels[LABEL.dependency] ?? '', values: columnOf(series.points) }))
    .sort((a, b) => `${a.service}->${a.dependency}`.localeCompare(`${b.service}->${b.dependency}`));
  return { stepMs, t, series: Object.fromEntries(columns) as MetricSeries['series'], queries, breakers, breakerQuery };
}

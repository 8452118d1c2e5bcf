// Dependencies and resilience: what the policies of demo-services/resilience/
// did with each caller -> dependency call (kit/metrics.ts ResilienceMetrics):
// breaker state over time and its transitions, calls by outcome, retries and
// the amplification ratio (attempts per logical call), bulkhead occupancy,
// fallbacks served, the gateway's rate-limited and shed requests, and the
// client-side load balancer's passive health (kit/grpc.ts): which endpoints
// are ejected, and when they were ejected and re-admitted.

import { CIRCUIT_STATES, LABEL, METRIC, RPC_LABEL, RPC_METRIC, SCRAPE_LABEL, type CircuitState, type Outcome } from '../demo-services/kit/conventions.ts';
import type { BalancerEvent } from '../demo-services/resilience/balancer.ts';
import { quantile, renderDashboard, selector, sumRate, type GrafanaDashboard, type Matcher, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-resilience';

/** The gateway (job `gateway`) counts requests it sheds as calls to itself with outcome `rejected` (demo-services/gateway/main.ts). */
const SHEDDING_DEPENDENCY = 'gateway';

const { job, instance } = SCRAPE_LABEL;
const dep = LABEL.dependency;
const base: Matcher[] = [[job, '=~', '$service'], [dep, '=~', '$dependency']];
const sel = selector(...base);
const outcome = (value: Outcome): string => selector(...base, [LABEL.outcome, '=', value]);
const calls = METRIC.resilienceCalls;
const callRate = sumRate(calls, sel, [job, dep]);
/** A zero series per caller and dependency, so "none happened" draws as 0 instead of "No data". */
const zeroPerDependency = `${callRate} * 0`;

/** Breaker state as one number: 0 closed, 1 half open, 2 open. */
const STATE_VALUE: Readonly<Record<CircuitState, number>> = { closed: 0, half_open: 1, open: 2 };
const circuitStateExpr = CIRCUIT_STATES.filter((state) => STATE_VALUE[state] > 0)
  .map((state) => `${STATE_VALUE[state]} * max by (${job}, ${instance}, ${dep}) (${METRIC.resilienceCircuitState}${selector(...base, [LABEL.state, '=', state])})`)
  .join(' + ');

const breaker: PanelSpec[] = [
  {
    title: 'Circuit breaker state',
    description: 'State of every circuit breaker over time, per caller instance and dependency: closed, half open or open.',
    type: 'state-timeline',
    unit: 'none',
    width: 24,
    height: 7,
    mappings: [
      { value: '0', text: 'closed', color: 'green' },
      { value: '1', text: 'half open', color: 'yellow' },
      { value: '2', text: 'open', color: 'red' },
    ],
    targets: [{ expr: circuitStateExpr, legend: `{{${instance}}} -> {{${dep}}}` }],
  },
  {
    title: 'Breaker transitions',
    description: 'State changes of the circuit breakers per interval, by caller, dependency and direction.',
    type: 'timeseries',
    unit: 'short',
    bars: true,
    width: 24,
    height: 7,
    targets: [{ expr: `sum by (${job}, ${dep}, ${LABEL.from}, ${LABEL.to}) (increase(${METRIC.resilienceCircuitTransitions}${sel}[$__rate_interval]))`, legend: `{{${job}}} -> {{${dep}}}: {{${LABEL.from}}} to {{${LABEL.to}}}` }],
  },
];

const outcomes: PanelSpec[] = [
  { title: 'Calls by outcome', description: 'Logical calls per second (after retries) by caller, dependency and outcome: success, failure, timeout, rejected (bulkhead full), short_circuited (breaker open), fallback.', type: 'timeseries', unit: 'reqps', stacked: true, targets: [{ expr: sumRate(calls, sel, [job, dep, LABEL.outcome]), legend: `{{${job}}} -> {{${dep}}} {{${LABEL.outcome}}}` }] },
  {
    title: 'Failed call ratio',
    description: 'Share of logical calls that did not succeed (any outcome but success), per caller and dependency.',
    type: 'timeseries',
    unit: 'percentunit',
    max: 1,
    targets: [{ expr: `(${sumRate(calls, selector(...base, [LABEL.outcome, '!=', 'success']), [job, dep])} or ${zeroPerDependency}) / ${callRate}`, legend: `{{${job}}} -> {{${dep}}}` }],
  },
];

const attempts = METRIC.resilienceAttempts;
const retries: PanelSpec[] = [
  { title: 'Retries', description: 'Retries per second (attempts after the first), per caller and dependency.', type: 'timeseries', unit: 'reqps', targets: [{ expr: `${sumRate(METRIC.resilienceRetries, sel, [job, dep])} or ${zeroPerDependency}`, legend: `{{${job}}} -> {{${dep}}}` }] },
  {
    title: 'Retry amplification',
    description: 'Attempts per logical call: 1 means no retries; the mean, and the p99 that a retry storm pushes up to the policy\'s maximum.',
    type: 'timeseries',
    unit: 'none',
    min: 1,
    decimals: 2,
    thresholds: [[1.5, 'orange'], [2.5, 'red']],
    targets: [
      { expr: `${sumRate(`${attempts}_sum`, sel, [job, dep])} / ${sumRate(`${attempts}_count`, sel, [job, dep])}`, legend: `{{${job}}} -> {{${dep}}} mean` },
      { expr: quantile(0.99, attempts, sel, [job, dep]), legend: `{{${job}}} -> {{${dep}}} p99` },
    ],
  },
];

const bulkhead: PanelSpec[] = [
  { title: 'Bulkhead in flight', description: 'Calls holding a bulkhead slot, per caller instance and dependency (only callers with a bulkhead policy).', type: 'timeseries', unit: 'short', targets: [{ expr: `max by (${instance}, ${dep}) (${METRIC.resilienceBulkheadInFlight}${sel})`, legend: `{{${instance}}} -> {{${dep}}}` }] },
  { title: 'Bulkhead queued', description: 'Calls waiting for a bulkhead slot, per caller instance and dependency; calls beyond the queue are rejected.', type: 'timeseries', unit: 'short', targets: [{ expr: `max by (${instance}, ${dep}) (${METRIC.resilienceBulkheadQueued}${sel})`, legend: `{{${instance}}} -> {{${dep}}}` }] },
];

const protection: PanelSpec[] = [
  { title: 'Fallbacks served', description: 'Calls per second answered by a fallback (for example popular items when recommendations fail), per caller and dependency.', type: 'timeseries', unit: 'reqps', width: 8, targets: [{ expr: `${sumRate(calls, outcome('fallback'), [job, dep])} or ${zeroPerDependency}`, legend: `{{${job}}} -> {{${dep}}}` }] },
  { title: 'Rate-limited requests', description: 'Requests per second refused with 429 by a per-client rate limiter, per instance.', type: 'timeseries', unit: 'reqps', width: 8, targets: [{ expr: sumRate(METRIC.resilienceRateLimited, selector([job, '=~', '$service']), [job, instance]), legend: `{{${instance}}}` }] },
  {
    title: 'Shed requests (gateway)',
    description: 'Requests per second the gateway refused with 503 because too many were in flight (load shedding); only the gateway sheds, so this panel ignores the caller filter.',
    type: 'timeseries',
    unit: 'reqps',
    width: 8,
    targets: [{ expr: `${sumRate(calls, selector([job, '=', SHEDDING_DEPENDENCY], [dep, '=', SHEDDING_DEPENDENCY], [LABEL.outcome, '=', 'rejected']), [job])} or ${sumRate(METRIC.resilienceRateLimited, selector([job, '=', SHEDDING_DEPENDENCY]), [job])} * 0`, legend: `{{${job}}}` }],
  },
];

const { endpoint, event } = RPC_LABEL;
const ejected = RPC_METRIC.balancerEjected;
/** Set to 0 for every endpoint when the client starts, so it is always there to draw zeros from. */
const zeroPerEndpoint = `sum by (${job}, ${dep}, ${endpoint}) (${ejected}${sel}) * 0`;
const balancerEvents = (value: BalancerEvent['event']): string =>
  `sum by (${job}, ${dep}, ${endpoint}) (increase(${RPC_METRIC.balancerEvents}${selector(...base, [event, '=', value])}[$__rate_interval])) or ${zeroPerEndpoint}`;

const balancing: PanelSpec[] = [
  {
    title: 'Balancer endpoint health',
    description: 'Every endpoint of a load-balanced dependency (gRPC clients) over time, per caller instance: in rotation, or ejected by passive health checks after consecutive failures until its ejection time has passed.',
    type: 'state-timeline',
    unit: 'none',
    width: 24,
    height: 7,
    mappings: [
      { value: '0', text: 'in rotation', color: 'green' },
      { value: '1', text: 'ejected', color: 'red' },
    ],
    targets: [{ expr: `max by (${instance}, ${dep}, ${endpoint}) (${ejected}${sel})`, legend: `{{${instance}}} -> {{${endpoint}}}` }],
  },
  {
    title: 'Ejected endpoints',
    description: 'Endpoints currently ejected by each caller\'s load balancer, per caller and dependency; when all are ejected, calls fail fast on the last pick.',
    type: 'timeseries',
    unit: 'short',
    decimals: 0,
    targets: [{ expr: `sum by (${job}, ${dep}) (${ejected}${sel})`, legend: `{{${job}}} -> {{${dep}}}` }],
  },
  {
    title: 'Ejections and re-admissions',
    description: 'Endpoints ejected from and re-admitted to rotation per interval, per caller, dependency and endpoint (0 when none happened).',
    type: 'timeseries',
    unit: 'short',
    bars: true,
    targets: [
      { expr: balancerEvents('ejected'), legend: `{{${job}}} -> {{${endpoint}}} ejected` },
      { expr: balancerEvents('readmitted'), legend: `{{${job}}} -> {{${endpoint}}} readmitted` },
    ],
  },
];

export function resilience(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / Dependencies and resilience',
    description: 'Circuit breakers, calls by outcome, retries and amplification, bulkheads, fallbacks, rate limiting, load shedding and load-balancer ejections, per caller and dependency.',
    tags: ['resilience', 'dependencies'],
    variables: [
      { name: 'service', label: 'Caller', selector: calls, labelName: job, description: 'Services making guarded calls (Prometheus job)' },
      { name: 'dependency', label: 'Dependency', selector: `${calls}{${job}=~"$service"}`, labelName: dep, description: 'Dependencies of the selected callers' },
    ],
    rows: [
      { title: 'Circuit breakers', panels: breaker },
      { title: 'Calls', panels: outcomes },
      { title: 'Retries', panels: retries },
      { title: 'Bulkheads', panels: bulkhead },
      { title: 'Fallbacks, rate limiting and shedding', panels: protection },
      { title: 'Client-side load balancing', panels: balancing },
    ],
  });
}

// Load test: the load generator's own view (load/metrics.ts, k6's names with
// a loadgen_ prefix), to set what was offered beside what was achieved.
// Latency here is measured from each request's intended start, so it includes
// the queueing a closed-model tool would hide (coordinated omission).

import { LOAD_LABEL, LOAD_METRIC } from '../demo-services/kit/conventions.ts';
import { quantile, renderDashboard, selector, sumRate, type GrafanaDashboard, type Matcher, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-load-test';

const { journey, step, status } = LOAD_LABEL;
const base: Matcher[] = [[journey, '=~', '$journey']];
const sel = selector(...base);
const reqs = LOAD_METRIC.httpReqs;
const started = sumRate(LOAD_METRIC.iterations, '', []);
const dropped = sumRate(LOAD_METRIC.droppedIterations, '', []);
const failed = selector(...base, [status, '!~', '[23]..']);

/** Requests per second matching `sel`, or 0 while there is traffic but none matches (a class that never happened draws as 0, not "No data"). */
const orZero = (match: string): string => `${sumRate(reqs, match, [])} or ${sumRate(reqs, sel, [])} * 0`;

const rate: PanelSpec[] = [
  {
    title: 'Offered vs achieved rate',
    description: 'Iterations per second the arrival schedule asked for (finished + dropped) against those that ran, and the HTTP requests they sent. A gap means the generator could not keep up (no free VU).',
    type: 'timeseries',
    unit: 'reqps',
    targets: [
      { expr: `${started} + ${dropped}`, legend: 'offered iterations' },
      { expr: started, legend: 'achieved iterations' },
      { expr: sumRate(reqs, sel, []), legend: 'HTTP requests' },
    ],
  },
  { title: 'Dropped iterations', description: 'Iterations per second not started because every VU was busy (k6\'s dropped_iterations): the system under test is slower than the offered rate allows.', type: 'timeseries', unit: 'reqps', targets: [{ expr: dropped, legend: 'dropped' }] },
  {
    title: 'VUs',
    description: 'Virtual users busy running an iteration, and those allocated (preAllocatedVUs up to maxVUs).',
    type: 'timeseries',
    unit: 'short',
    targets: [
      { expr: `max(${LOAD_METRIC.vus})`, legend: 'busy' },
      { expr: `max(${LOAD_METRIC.vusMax})`, legend: 'allocated' },
    ],
  },
  { title: 'Requests by journey and step', description: 'HTTP requests per second, per journey and step.', type: 'timeseries', unit: 'reqps', stacked: true, targets: [{ expr: sumRate(reqs, sel, [journey, step]), legend: `{{${journey}}} {{${step}}}` }] },
];

const latency: PanelSpec[] = [
  {
    title: 'Latency percentiles by journey',
    description: 'p50, p95 and p99 of request duration per journey, measured from the intended start (coordinated-omission corrected).',
    type: 'timeseries',
    unit: 's',
    targets: [0.5, 0.95, 0.99].map((q) => ({ expr: quantile(q, LOAD_METRIC.httpReqDuration, sel, [journey]), legend: `{{${journey}}} p${Math.round(q * 100)}` })),
  },
  { title: 'p95 latency by step', description: 'p95 of request duration per journey and step.', type: 'timeseries', unit: 's', targets: [{ expr: quantile(0.95, LOAD_METRIC.httpReqDuration, sel, [journey, step]), legend: `{{${journey}}} {{${step}}}` }] },
];

const errors: PanelSpec[] = [
  {
    title: 'Errors by class',
    description: 'Failed requests per second: answered 4xx, answered 5xx, or no response at all (status 0: timeout, reset, refused).',
    type: 'timeseries',
    unit: 'reqps',
    stacked: true,
    targets: [
      { expr: orZero(selector(...base, [status, '=~', '4..'])), legend: '4xx' },
      { expr: orZero(selector(...base, [status, '=~', '5..'])), legend: '5xx' },
      { expr: orZero(selector(...base, [status, '=', '0'])), legend: 'no response' },
    ],
  },
  {
    title: 'Error ratio by journey',
    description: 'Share of each journey\'s requests that failed (k6\'s http_req_failed: anything but 2xx and 3xx).',
    type: 'timeseries',
    unit: 'percentunit',
    max: 1,
    targets: [{ expr: `(${sumRate(reqs, failed, [journey])} or ${sumRate(reqs, sel, [journey])} * 0) / ${sumRate(reqs, sel, [journey])}`, legend: `{{${journey}}}` }],
  },
];

export function loadTest(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / Load test',
    description: 'The load generator\'s view: offered vs achieved rate, dropped iterations, latency percentiles by journey and errors by class.',
    tags: ['load'],
    variables: [{ name: 'journey', label: 'Journey', selector: reqs, labelName: journey, description: 'Journeys of the load profile' }],
    rows: [
      { title: 'Rate', panels: rate },
      { title: 'Latency', panels: latency },
      { title: 'Errors', panels: errors },
    ],
  });
}

// Runtime: the Node.js processes behind the services, per instance, from
// prom-client's default metrics (collectDefaultMetrics in kit/metrics.ts):
// event-loop lag (what a CPU burn or an event-loop block fault shows first),
// CPU, heap and resident memory (a memory leak fault), and garbage collection.

import { RUNTIME_LABEL, RUNTIME_METRIC, SCRAPE_LABEL } from '../demo-services/kit/conventions.ts';
import { renderDashboard, selector, sumRate, type GrafanaDashboard, type Matcher, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-runtime';

const { job, instance } = SCRAPE_LABEL;
const base: Matcher[] = [[job, '=~', '$service'], [instance, '=~', '$instance']];
const sel = selector(...base);
const perInstance = (metric: string): string => `max by (${instance}) (${metric}${sel})`;
const legend = `{{${instance}}}`;

const loop: PanelSpec[] = [
  {
    title: 'Event-loop lag p99',
    description: 'p99 of event-loop delay per instance (perf_hooks monitorEventLoopDelay): how long ready callbacks waited. Above ~100 ms every request on that instance waits too.',
    type: 'timeseries',
    unit: 's',
    thresholds: [[0.1, 'orange'], [0.5, 'red']],
    targets: [{ expr: perInstance(RUNTIME_METRIC.eventLoopLagP99), legend }],
  },
  {
    title: 'Event-loop lag p50 and max',
    description: 'Median and worst event-loop delay per instance since the previous scrape window.',
    type: 'timeseries',
    unit: 's',
    targets: [
      { expr: perInstance(RUNTIME_METRIC.eventLoopLagP50), legend: `${legend} p50` },
      { expr: perInstance(RUNTIME_METRIC.eventLoopLagMax), legend: `${legend} max` },
    ],
  },
];

const cpu: PanelSpec[] = [
  { title: 'CPU', description: 'CPU time per second of wall time, per instance (1 = one core busy).', type: 'timeseries', unit: 'percentunit', targets: [{ expr: sumRate(RUNTIME_METRIC.cpuSeconds, sel, [instance]), legend }] },
  {
    title: 'CPU user and system',
    description: 'CPU time per second split into user and system (kernel) time, per instance.',
    type: 'timeseries',
    unit: 'percentunit',
    stacked: true,
    targets: [
      { expr: sumRate(RUNTIME_METRIC.cpuUserSeconds, sel, [instance]), legend: `${legend} user` },
      { expr: sumRate(RUNTIME_METRIC.cpuSystemSeconds, sel, [instance]), legend: `${legend} system` },
    ],
  },
];

const memory: PanelSpec[] = [
  {
    title: 'Heap used and total',
    description: 'V8 heap in use and allocated, per instance. A steady climb of used heap that GC never brings back is a leak.',
    type: 'timeseries',
    unit: 'bytes',
    width: 8,
    targets: [
      { expr: perInstance(RUNTIME_METRIC.heapUsed), legend: `${legend} used` },
      { expr: perInstance(RUNTIME_METRIC.heapTotal), legend: `${legend} total` },
    ],
  },
  {
    title: 'Resident and external memory',
    description: 'Resident set size of the process, and memory held outside the V8 heap (Buffers), per instance.',
    type: 'timeseries',
    unit: 'bytes',
    width: 8,
    targets: [
      { expr: perInstance(RUNTIME_METRIC.residentMemory), legend: `${legend} rss` },
      { expr: perInstance(RUNTIME_METRIC.externalMemory), legend: `${legend} external` },
    ],
  },
  { title: 'Heap by space', description: 'Used bytes per V8 heap space (new, old, code...), summed over the selected instances.', type: 'timeseries', unit: 'bytes', width: 8, stacked: true, targets: [{ expr: `sum by (${RUNTIME_LABEL.heapSpace}) (${RUNTIME_METRIC.heapSpaceUsed}${sel})`, legend: `{{${RUNTIME_LABEL.heapSpace}}}` }] },
];

const gc = RUNTIME_METRIC.gcDuration;
const collection: PanelSpec[] = [
  { title: 'Time in GC', description: 'Share of wall time spent in garbage collection, per instance and GC kind (minor, major, incremental...).', type: 'timeseries', unit: 'percentunit', stacked: true, targets: [{ expr: sumRate(`${gc}_sum`, sel, [instance, RUNTIME_LABEL.gcKind]), legend: `${legend} {{${RUNTIME_LABEL.gcKind}}}` }] },
  { title: 'GC runs', description: 'Garbage collections per second, per instance and kind.', type: 'timeseries', unit: 'ops', targets: [{ expr: sumRate(`${gc}_count`, sel, [instance, RUNTIME_LABEL.gcKind]), legend: `${legend} {{${RUNTIME_LABEL.gcKind}}}` }] },
  { title: 'Active handles', description: 'Open handles (sockets, timers, files) per instance: a climb under steady load means something is not being closed.', type: 'timeseries', unit: 'short', width: 24, height: 6, targets: [{ expr: `sum by (${instance}) (${RUNTIME_METRIC.activeHandles}${sel})`, legend }] },
];

export function runtime(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / Runtime',
    description: 'Node.js runtime of every service instance: event-loop lag, CPU, heap and memory, garbage collection.',
    tags: ['runtime', 'nodejs'],
    variables: [
      { name: 'service', label: 'Service', selector: RUNTIME_METRIC.heapUsed, labelName: job, description: 'Services (Prometheus job)' },
      { name: 'instance', label: 'Instance', selector: `${RUNTIME_METRIC.heapUsed}{${job}=~"$service"}`, labelName: instance, description: 'Instances of the selected services' },
    ],
    rows: [
      { title: 'Event loop', panels: loop },
      { title: 'CPU', panels: cpu },
      { title: 'Memory', panels: memory },
      { title: 'Garbage collection and handles', panels: collection },
    ],
  });
}

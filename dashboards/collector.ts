// Collector: the embedded OTLP collector's own counters (collector/
// collector-metrics.ts), per signal: what arrived, what was dropped (write
// queue full or write failed) and what was written; and, from the other end,
// what each service's span exporter delivered or dropped before the
// collector saw it (demo-services/kit/span-export.ts). A drop here means the
// traces behind every other dashboard's exemplars are incomplete.

import { LAB_METRIC, LABEL, SCRAPE_LABEL } from '../demo-services/kit/conventions.ts';
import { renderDashboard, selector, sumRate, type GrafanaDashboard, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-collector';

const signal = LABEL.signal;
const sel = selector([signal, '=~', '$signal']);
const { collectorReceived: received, collectorDropped: dropped, collectorExported: exported } = LAB_METRIC;
const total = (metric: string): string => `sum by (${signal}) (increase(${metric}${sel}[$__range]))`;

const summary: PanelSpec[] = [
  { title: 'Received', description: 'Items received over OTLP in the time range, per signal.', type: 'stat', unit: 'short', width: 8, height: 4, targets: [{ expr: total(received), legend: `{{${signal}}}` }] },
  { title: 'Dropped', description: 'Items received but not kept in the time range, per signal.', type: 'stat', unit: 'short', width: 8, height: 4, thresholds: [[1, 'red']], targets: [{ expr: total(dropped), legend: `{{${signal}}}` }] },
  { title: 'Exported', description: 'Items written to the run directory in the time range, per signal.', type: 'stat', unit: 'short', width: 8, height: 4, targets: [{ expr: total(exported), legend: `{{${signal}}}` }] },
];

const flow: PanelSpec[] = [
  {
    title: 'Items per second by signal',
    description: 'Received, dropped and exported items per second, per signal. Exported trails received by the write batching; dropped should stay at 0.',
    type: 'timeseries',
    unit: 'short',
    targets: [
      { expr: sumRate(received, sel, [signal]), legend: `{{${signal}}} received` },
      { expr: sumRate(dropped, sel, [signal]), legend: `{{${signal}}} dropped` },
      { expr: sumRate(exported, sel, [signal]), legend: `{{${signal}}} exported` },
    ],
  },
  {
    title: 'Drop ratio',
    description: 'Share of received items dropped, per signal.',
    type: 'timeseries',
    unit: 'percentunit',
    max: 1,
    thresholds: [[0.001, 'red']],
    targets: [{ expr: `${sumRate(dropped, sel, [signal])} / ${sumRate(received, sel, [signal])}`, legend: `{{${signal}}}` }],
  },
];

const job = SCRAPE_LABEL.job;
const senders: PanelSpec[] = [
  {
    title: 'Spans sent by each service',
    description: "Spans per second each service's exporter delivered to the collector, and spans it dropped (export queue full, collector unreachable or refusing). Dropped should stay at 0.",
    type: 'timeseries',
    unit: 'short',
    targets: [
      { expr: sumRate(LAB_METRIC.spansExported, '', [job]), legend: `{{${job}}} exported` },
      { expr: sumRate(LAB_METRIC.spansDropped, '', [job]), legend: `{{${job}}} dropped` },
    ],
  },
];

export function collector(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / Collector',
    description: 'The embedded OTLP collector: items received, dropped and exported per signal; spans each service exported or dropped.',
    tags: ['telemetry'],
    variables: [{ name: 'signal', label: 'Signal', selector: received, labelName: signal, description: 'Telemetry signals the collector takes' }],
    rows: [
      { title: 'In the time range', panels: summary },
      { title: 'Flow', panels: flow },
      { title: 'Senders', panels: senders },
    ],
  });
}

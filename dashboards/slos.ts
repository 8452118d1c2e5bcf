// SLOs: read from the Sloth-compatible recording rules slo/generate.ts writes
// (slo/rules.ts names them), so the same panels work on the real-time rules
// and on the lab's time-scaled ones (same names, shorter windows). Per SLO:
// objective, error budget left over the period, the burn rate over every
// window the alerts use, the SLI's events, and which alerts are firing.

import { ALERTS_SERIES } from '../demo-services/kit/conventions.ts';
import { BAD_EVENTS_RATE, META, SLI_ERROR_RATIO, SLOTH_LABEL, TOTAL_EVENTS_RATE } from '../slo/rules.ts';
import { DATASOURCE_UID, renderDashboard, selector, type GrafanaDashboard, type Matcher, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-slos';

const { id, service, window } = SLOTH_LABEL;
const base: Matcher[] = [[service, '=~', '$service'], [id, '=~', '$slo']];
const sel = selector(...base);
const byId = (metric: string): string => `max by (${id}) (${metric}${sel})`;
const alertSel = (state?: string): string => selector(...base, ...(state ? [[ALERTS_SERIES.alertState, '=', state] as const] : []));

const summary: PanelSpec[] = [
  { title: 'Objective', description: 'Target share of good events over the SLO period, per SLO.', type: 'stat', unit: 'percentunit', decimals: 2, width: 6, height: 5, targets: [{ expr: byId(META.objective), legend: `{{${id}}}` }] },
  {
    title: 'Error budget remaining',
    description: 'Share of the period\'s error budget not yet spent (1 - period burn rate); below 0 the SLO is broken for the period.',
    type: 'stat',
    unit: 'percentunit',
    decimals: 1,
    width: 6,
    height: 5,
    baseColor: 'red',
    thresholds: [[0, 'orange'], [0.25, 'green']],
    targets: [{ expr: byId(META.budgetRemaining), legend: `{{${id}}}` }],
  },
  { title: 'Current burn rate', description: 'How fast the budget burns now (5m error ratio / budget): 1 spends exactly the budget over the period.', type: 'stat', unit: 'none', decimals: 2, width: 6, height: 5, thresholds: [[1, 'orange'], [6, 'red']], targets: [{ expr: byId(META.currentBurnRate), legend: `{{${id}}}` }] },
  { title: 'Alerts firing', description: 'SLO burn-rate alerts firing now (page and ticket), from Prometheus\' ALERTS series.', type: 'stat', unit: 'none', width: 6, height: 5, thresholds: [[1, 'red']], targets: [{ expr: `count(${ALERTS_SERIES.metric}${alertSel('firing')}) or vector(0)`, legend: 'firing' }] },
];

const budget: PanelSpec[] = [
  { title: 'Error budget remaining over time', description: 'Share of the period\'s error budget left, per SLO.', type: 'timeseries', unit: 'percentunit', targets: [{ expr: byId(META.budgetRemaining), legend: `{{${id}}}` }] },
  {
    title: 'Burn rate by window',
    description: 'Error ratio over each window divided by the error budget, per SLO: the multiwindow alerts page when a long and a short window both exceed their factor (14.4/13.44 over 1h, 6/5.6 over 6h...).',
    type: 'timeseries',
    unit: 'none',
    targets: [{ expr: `max by (${id}, ${window}) ({__name__=~"${SLI_ERROR_RATIO}.+", ${sel.slice(1)}) / on (${id}) group_left () ${byId(META.errorBudget)}`, legend: `{{${id}}} {{${window}}}` }],
  },
];

const events: PanelSpec[] = [
  {
    title: 'SLI events',
    description: 'Events per second counted by each SLI (5m rate): all of them, and the bad ones.',
    type: 'timeseries',
    unit: 'reqps',
    targets: [
      { expr: byId(TOTAL_EVENTS_RATE), legend: `{{${id}}} total` },
      { expr: byId(BAD_EVENTS_RATE), legend: `{{${id}}} bad` },
    ],
  },
  {
    title: 'Alerts',
    description: 'Burn-rate alerts over time by SLO, alert, severity and state (pending, then firing); Alertmanager routes the firing ones.',
    type: 'state-timeline',
    unit: 'none',
    mappings: [{ value: '1', text: 'active', color: 'red' }],
    targets: [{ expr: `max by (${id}, ${ALERTS_SERIES.alertName}, ${ALERTS_SERIES.severity}, ${ALERTS_SERIES.alertState}) (${ALERTS_SERIES.metric}${alertSel()})`, legend: `{{${id}}} {{${ALERTS_SERIES.severity}}} {{${ALERTS_SERIES.alertState}}}` }],
  },
];

export function slos(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / SLOs',
    description: 'Per SLO: objective, error budget remaining, burn rates by window and alerts, from the Sloth-compatible rules of slo/generate.ts.',
    tags: ['slo'],
    variables: [
      { name: 'service', label: 'Service', selector: META.objective, labelName: service, description: 'Services with an SLO (sloth_service)' },
      { name: 'slo', label: 'SLO', selector: `${META.objective}{${service}=~"$service"}`, labelName: id, description: 'SLOs of the selected services (sloth_id)' },
    ],
    links: [{ title: 'Alertmanager', url: `/alerting/groups?alertmanager=${DATASOURCE_UID.alertmanager}`, tooltip: 'Alert groups in Grafana\'s Alertmanager view', icon: 'info' }],
    rows: [
      { title: 'Now', panels: summary },
      { title: 'Error budget and burn rate', panels: budget },
      { title: 'Events and alerts', panels: events },
    ],
  });
}

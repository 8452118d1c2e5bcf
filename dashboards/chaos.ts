// Chaos: which faults are active, since when and where, from chaos_fault_active
// (set by the fault proxy for network and HTTP faults, and by a service's
// in-process faults: kit/process-faults.ts), and what the fault proxies did
// with the traffic crossing them. Every dashboard also draws the same fault
// windows as annotations (grafana.ts FAULT_WINDOW_EXPR).

import { LAB_METRIC, LABEL, SCRAPE_LABEL } from '../demo-services/kit/conventions.ts';
import type { ProxyOutcome } from '../chaos/fault-proxy.ts';
import { renderDashboard, selector, sumRate, type GrafanaDashboard, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-chaos';

const { fault, target, proxy, outcome } = LABEL;
const active = LAB_METRIC.chaosFaultActive;
const faultState = `max by (${fault}, ${target}) (${active})`;
const proxies = LAB_METRIC.proxyRequests;
const sel = selector([proxy, '=~', '$proxy']);
const injected: ProxyOutcome = 'injected_error';
const upstreamError: ProxyOutcome = 'upstream_error';

const faults: PanelSpec[] = [
  { title: 'Faults active now', description: 'Number of faults active at the end of the time range (network, HTTP and in-process faults).', type: 'stat', unit: 'none', width: 6, height: 8, thresholds: [[1, 'red']], targets: [{ expr: `sum(${faultState}) or vector(0)`, legend: 'active' }] },
  {
    title: 'Active faults',
    description: 'Every fault active at the end of the time range: its name, where it acts (a proxy such as payment-bank, or a service instance) and who reports it.',
    type: 'table',
    unit: 'none',
    width: 18,
    height: 8,
    targets: [{ expr: `max by (${fault}, ${target}, ${SCRAPE_LABEL.job}) (${active}) == 1`, legend: '', instant: true }],
  },
  {
    title: 'Fault timeline',
    description: 'When each fault was active, per fault and target.',
    type: 'state-timeline',
    unit: 'none',
    width: 24,
    mappings: [
      { value: '0', text: 'off', color: 'transparent' },
      { value: '1', text: 'active', color: 'red' },
    ],
    targets: [{ expr: faultState, legend: `{{${fault}}} on {{${target}}}` }],
  },
];

const traffic: PanelSpec[] = [
  { title: 'Proxied requests by outcome', description: 'Requests (HTTP proxies) or connections (TCP proxies) per second through each fault proxy: forwarded, answered by an injected error, or failed upstream.', type: 'timeseries', unit: 'reqps', stacked: true, targets: [{ expr: sumRate(proxies, sel, [proxy, outcome]), legend: `{{${proxy}}} {{${outcome}}}` }] },
  {
    title: 'Injected error ratio',
    description: 'Share of each proxy\'s traffic answered by an injected fault or failed upstream (0 when none).',
    type: 'timeseries',
    unit: 'percentunit',
    max: 1,
    targets: [{ expr: `(${sumRate(proxies, selector([proxy, '=~', '$proxy'], [outcome, '=~', `${injected}|${upstreamError}`]), [proxy])} or ${sumRate(proxies, sel, [proxy])} * 0) / ${sumRate(proxies, sel, [proxy])}`, legend: `{{${proxy}}}` }],
  },
];

export function chaos(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / Chaos',
    description: 'Active faults and their windows (chaos_fault_active), and the traffic through the fault proxies.',
    tags: ['chaos'],
    variables: [{ name: 'proxy', label: 'Proxy', selector: proxies, labelName: proxy, description: 'Fault proxies (one per edge and instance)' }],
    rows: [
      { title: 'Faults', panels: faults },
      { title: 'Fault proxies', panels: traffic },
    ],
  });
}

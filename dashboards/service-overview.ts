// Service overview: the RED view an on-call SRE opens first. Rate, errors and
// duration of every service's HTTP server, per service and per route, from
// the server histogram every demo service exports (kit/metrics.ts); latency
// panels carry exemplars, whose trace_id opens the trace in Jaeger (the
// Prometheus datasource's exemplarTraceIdDestinations); series link to the
// service's logs in Loki and traces in Jaeger; outgoing HTTP and gRPC calls
// (what checkout sees of payment) below.

import { LABEL, METRIC, RPC_LABEL, RPC_METRIC, SCRAPE_LABEL } from '../demo-services/kit/conventions.ts';
import { grpcCodeName, GRPC_CODE } from '../demo-services/kit/grpc-status.ts';
import { DS_VAR, exploreUrl, quantile, renderDashboard, selector, sumRate, type DataLink, type GrafanaDashboard, type Matcher, type PanelSpec } from './grafana.ts';

export const UID = 'faultline-service-overview';

/** Routes that are probes, not traffic. */
const PROBE_ROUTES = '/healthz|/readyz|/metrics';

const { job, instance } = SCRAPE_LABEL;
const server = METRIC.httpServerDuration;
const client = METRIC.httpClientDuration;
const base: Matcher[] = [[job, '=~', '$service'], [instance, '=~', '$instance']];
const traffic: Matcher[] = [...base, [LABEL.route, '=~', '$route'], [LABEL.route, '!~', PROBE_ROUTES]];
const selTraffic = selector(...traffic);
const sel5xx = selector(...traffic, [LABEL.status, '=~', '5..']);
const selErrors = selector(...traffic, [LABEL.status, '=~', '[45]..']);
const clientSel = selector(...base);
/** A 5xx, or no response at all (no status; error_type says why: timeout, connection_refused...). */
const clientFailed = selector(...base, [LABEL.status, '=~', '5..|']);

/** Logs and traces of the series' service, for panels whose legend names one job. */
const serviceLinks: DataLink[] = [
  { title: 'Logs of ${__field.labels.job} in Loki', url: exploreUrl(DS_VAR.loki, { expr: '{service_name="${__field.labels.job}"}', queryType: 'range' }) },
  { title: 'Traces of ${__field.labels.job} in Jaeger', url: exploreUrl(DS_VAR.jaeger, { queryType: 'search', service: '${__field.labels.job}' }) },
  { title: 'Runtime of ${__field.labels.job}', url: '/d/faultline-runtime?var-service=${__field.labels.job}&${__url_time_range}', targetBlank: false },
];

const errorRatio = (by: readonly string[]): string =>
  `(${sumRate(`${server}_count`, sel5xx, by)} or ${sumRate(`${server}_count`, selTraffic, by)} * 0) / ${sumRate(`${server}_count`, selTraffic, by)}`;

const overview: PanelSpec[] = [
  { title: 'Request rate', description: 'Requests per second served by the selected services (probes excluded).', type: 'stat', unit: 'reqps', width: 6, height: 4, targets: [{ expr: sumRate(`${server}_count`, selTraffic, []), legend: 'requests' }] },
  { title: 'Server error ratio', description: 'Share of requests answered with a 5xx status.', type: 'stat', unit: 'percentunit', width: 6, height: 4, decimals: 2, thresholds: [[0.01, 'orange'], [0.05, 'red']], targets: [{ expr: errorRatio([]), legend: '5xx' }] },
  { title: 'p95 latency', description: '95th percentile of server request duration across the selected services.', type: 'stat', unit: 's', width: 6, height: 4, thresholds: [[0.25, 'orange'], [1, 'red']], targets: [{ expr: quantile(0.95, server, selTraffic, []), legend: 'p95' }] },
  { title: 'p99 latency', description: '99th percentile of server request duration across the selected services.', type: 'stat', unit: 's', width: 6, height: 4, thresholds: [[0.5, 'orange'], [2.5, 'red']], targets: [{ expr: quantile(0.99, server, selTraffic, []), legend: 'p99' }] },
];

const rate: PanelSpec[] = [
  { title: 'Requests by service', description: 'Requests per second per service. Click a series for its logs, traces or runtime.', type: 'timeseries', unit: 'reqps', links: serviceLinks, targets: [{ expr: sumRate(`${server}_count`, selTraffic, [job]), legend: `{{${job}}}` }] },
  { title: 'Requests by route', description: 'Requests per second per service, route and method.', type: 'timeseries', unit: 'reqps', targets: [{ expr: sumRate(`${server}_count`, selTraffic, [job, LABEL.method, LABEL.route]), legend: `{{${job}}} {{${LABEL.method}}} {{${LABEL.route}}}` }] },
];

const errors: PanelSpec[] = [
  { title: 'Server error ratio by service', description: 'Share of each service\'s requests answered with a 5xx status (0 when none failed).', type: 'timeseries', unit: 'percentunit', max: 1, links: serviceLinks, targets: [{ expr: errorRatio([job]), legend: `{{${job}}}` }] },
  { title: 'Error responses by route and status', description: 'Requests per second answered with a 4xx or 5xx status, per service, route and status.', type: 'timeseries', unit: 'reqps', stacked: true, targets: [{ expr: sumRate(`${server}_count`, selErrors, [job, LABEL.route, LABEL.status]), legend: `{{${job}}} {{${LABEL.route}}} {{${LABEL.status}}}` }] },
];

const duration: PanelSpec[] = [
  {
    title: 'Latency percentiles by service',
    description: 'p50, p95 and p99 of server request duration per service. Diamonds are exemplars: click one to open its trace in Jaeger.',
    type: 'timeseries',
    unit: 's',
    links: serviceLinks,
    targets: [
      { expr: quantile(0.5, server, selTraffic, [job]), legend: `{{${job}}} p50`, exemplar: true },
      { expr: quantile(0.95, server, selTraffic, [job]), legend: `{{${job}}} p95`, exemplar: true },
      { expr: quantile(0.99, server, selTraffic, [job]), legend: `{{${job}}} p99`, exemplar: true },
    ],
  },
  { title: 'p95 latency by route', description: 'p95 of server request duration per service and route, with exemplars linking to traces.', type: 'timeseries', unit: 's', targets: [{ expr: quantile(0.95, server, selTraffic, [job, LABEL.route]), legend: `{{${job}}} {{${LABEL.route}}}`, exemplar: true }] },
];

const outgoing: PanelSpec[] = [
  {
    title: 'Outgoing calls by dependency',
    description: 'HTTP client requests per second from the selected services, per dependency address, status and error type (a call without a response has no status; its error type says why: timeout, connection_refused, connection_reset, aborted).',
    type: 'timeseries',
    unit: 'reqps',
    targets: [{ expr: sumRate(`${client}_count`, clientSel, [job, LABEL.serverAddress, LABEL.status, LABEL.errorType]), legend: `{{${job}}} -> {{${LABEL.serverAddress}}} {{${LABEL.status}}} {{${LABEL.errorType}}}` }],
  },
  {
    title: 'Outgoing call latency (p95)',
    description: 'p95 of HTTP client request duration per caller and dependency address; failed calls (5xx or no response) are in the error panel beside.',
    type: 'timeseries',
    unit: 's',
    targets: [{ expr: quantile(0.95, client, clientSel, [job, LABEL.serverAddress]), legend: `{{${job}}} -> {{${LABEL.serverAddress}}}` }],
  },
  { title: 'Failed outgoing calls', description: 'HTTP client requests per second answered 5xx or not answered at all (no status), per caller and dependency.', type: 'timeseries', unit: 'reqps', width: 24, height: 7, targets: [{ expr: `${sumRate(`${client}_count`, clientFailed, [job, LABEL.serverAddress])} or ${sumRate(`${client}_count`, clientSel, [job, LABEL.serverAddress])} * 0`, legend: `{{${job}}} -> {{${LABEL.serverAddress}}}` }] },
];

const rpc = RPC_METRIC.clientCallDuration;
const rpcMethod = [job, LABEL.serverAddress, RPC_LABEL.method];
/** Any status but OK is a failed attempt. */
const rpcFailed = selector(...base, [RPC_LABEL.statusCode, '!=', grpcCodeName(GRPC_CODE.OK)]);
const rpcLegend = `{{${job}}} -> {{${LABEL.serverAddress}}} {{${RPC_LABEL.method}}}`;

const outgoingGrpc: PanelSpec[] = [
  {
    title: 'gRPC calls by method and status',
    description: 'gRPC client attempts per second (retries included) from the selected services, per dependency, method (fully qualified) and gRPC status (OK, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE...).',
    type: 'timeseries',
    unit: 'reqps',
    targets: [{ expr: sumRate(`${rpc}_count`, clientSel, [...rpcMethod, RPC_LABEL.statusCode]), legend: `${rpcLegend} {{${RPC_LABEL.statusCode}}}` }],
  },
  {
    title: 'gRPC call latency by method',
    description: 'p50, p95 and p99 of gRPC client attempt duration per caller, dependency and method, failed attempts included. Diamonds are exemplars: click one to open its trace in Jaeger.',
    type: 'timeseries',
    unit: 's',
    targets: [
      { expr: quantile(0.5, rpc, clientSel, rpcMethod), legend: `${rpcLegend} p50`, exemplar: true },
      { expr: quantile(0.95, rpc, clientSel, rpcMethod), legend: `${rpcLegend} p95`, exemplar: true },
      { expr: quantile(0.99, rpc, clientSel, rpcMethod), legend: `${rpcLegend} p99`, exemplar: true },
    ],
  },
  {
    title: 'Failed gRPC calls',
    description: 'gRPC client attempts per second that ended with a status other than OK, per caller, dependency and method (0 when none failed).',
    type: 'timeseries',
    unit: 'reqps',
    width: 24,
    height: 7,
    targets: [{ expr: `${sumRate(`${rpc}_count`, rpcFailed, rpcMethod)} or ${sumRate(`${rpc}_count`, clientSel, rpcMethod)} * 0`, legend: rpcLegend }],
  },
];

export function serviceOverview(): GrafanaDashboard {
  return renderDashboard({
    uid: UID,
    title: 'Faultline / Service overview',
    description: 'Rate, errors and duration (RED) of every shop service, per service and route, with exemplars linking latency to traces.',
    tags: ['red', 'services'],
    variables: [
      { name: 'service', label: 'Service', selector: `${server}_count`, labelName: job, description: 'Services (Prometheus job)' },
      { name: 'instance', label: 'Instance', selector: `${server}_count{${job}=~"$service"}`, labelName: instance, description: 'Instances of the selected services' },
      { name: 'route', label: 'Route', selector: `${server}_count{${job}=~"$service", ${instance}=~"$instance"}`, labelName: LABEL.route, description: 'Routes of the selected services' },
    ],
    links: [
      { title: 'Logs (Loki)', url: exploreUrl(DS_VAR.loki, { expr: '{service_name=~".+"}', queryType: 'range' }), tooltip: 'Every service\'s logs in Explore' },
      { title: 'Traces (Jaeger)', url: exploreUrl(DS_VAR.jaeger, { queryType: 'search' }), tooltip: 'Search traces in Explore' },
    ],
    rows: [
      { title: 'Overview', panels: overview },
      { title: 'Rate', panels: rate },
      { title: 'Errors', panels: errors },
      { title: 'Duration', panels: duration },
      { title: 'Outgoing HTTP calls', panels: outgoing },
      { title: 'Outgoing gRPC calls', panels: outgoingGrpc },
    ],
  });
}

// The `observability` overlay: the compose stack's telemetry on a cluster,
// with the Prometheus Operator in place of a hand-written prometheus.yml.
// - OpenTelemetry Collector (contrib), Jaeger, Loki and Grafana with the very
//   config files compose mounts (collector/otel-collector.yaml,
//   deploy/loki/loki.yaml, deploy/grafana/provisioning/*), carried in
//   ConfigMaps; the Services are named as the compose hosts (otel-collector,
//   jaeger, loki, prometheus, alertmanager), so those files work unchanged.
// - Grafana's dashboards (dashboards/faultline/*.json), one ConfigMap each,
//   mounted where compose mounts the folder.
// - A Prometheus and an Alertmanager run by the operator; a ServiceMonitor
//   per scrape job of deploy/prometheus/prometheus.yml that exists on a
//   cluster (every shop service, the collector's two endpoints, Prometheus);
//   the SLO rules of `faultline slo generate` as PrometheusRules, one per SLO;
//   the Alertmanager routing and inhibition of slo/alertmanager.ts as an
//   AlertmanagerConfig.
// - A patch of the base's shared ConfigMap: services export OTLP to the collector.
// Pure: the caller reads the files and the SLO specs.

import { Deployment } from 'kubernetes-models/apps/v1';
import type { IContainer, IPodSecurityContext, IServicePort, IVolume } from 'kubernetes-models/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { Alertmanager, Prometheus, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { IEndpoint } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { AlertmanagerConfig } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1';
import type { AlertmanagerConfig as SloAlertmanagerConfig } from '../../slo/alertmanager.ts';
import { prometheusRuleName } from '../../slo/generate.ts';
import type { RuleGroup } from '../../slo/rules.ts';
import { parse } from 'yaml';
import { SERVICES } from '../../runner/topology.ts';
import { componentLabels, imageTag, type Manifest, NAME_LABEL, NAMESPACE, PART_OF, plain } from './manifest.ts';
import { SHARED_CONFIG } from './shop.ts';

/** The Prometheus and Alertmanager resources' name; the operator labels their pods `prometheus: <name>` / `alertmanager: <name>`. */
export const MONITORING_NAME = 'faultline';
export const COLLECTOR_OTLP_GRPC = 4317;
export const SCRAPE_INTERVAL = '5s';

export interface ObservabilityInputs {
  /** Images by compose service name: otel-collector, jaeger, loki, grafana, prometheus, alertmanager. */
  images: Readonly<Record<'otel-collector' | 'jaeger' | 'loki' | 'grafana' | 'prometheus' | 'alertmanager', string>>;
  /** collector/otel-collector.yaml, as compose mounts it. */
  collectorConfig: string;
  /** deploy/loki/loki.yaml. */
  lokiConfig: string;
  /** deploy/grafana/provisioning/datasources/datasources.yaml and dashboards/provider.yaml. */
  grafanaDatasources: string;
  grafanaDashboardProvider: string;
  /** dashboards/faultline/<name>.json, by file name. */
  dashboards: ReadonlyMap<string, string>;
  /** The rule files at real time: the SLOs' (slo/rules.ts renderRules(...).files) and the telemetry-loss alert's. */
  sloRules: ReadonlyArray<{ id: string; groups: readonly RuleGroup[] }>;
  /** slo/alertmanager.ts alertmanagerConfig(). */
  alerting: SloAlertmanagerConfig;
  /** Where Alertmanager posts notifications; default the collector's webhookevent receiver when its config has one (as in compose), else none. */
  alertWebhookUrl?: string;
}

/** The collector config's webhookevent receiver (Alertmanager's notifications, to Loki), if it has one: its port and path. */
export function collectorWebhook(collectorConfig: string): { port: number; path: string } | undefined {
  const config = parse(collectorConfig) as { receivers?: Record<string, { endpoint?: string; path?: string }> };
  const entry = Object.entries(config.receivers ?? {}).find(([name]) => name === 'webhookevent' || name.startsWith('webhookevent/'));
  const port = Number(/:(\d+)$/.exec(entry?.[1]?.endpoint ?? '')?.[1]);
  if (!entry || !Number.isInteger(port)) return undefined;
  return { port, path: entry[1].path ?? '/events' };
}

/** Where the SLO alerts are posted: the option, or the collector's webhook receiver, or nowhere. */
function alertWebhookUrl(inputs: ObservabilityInputs): string | undefined {
  if (inputs.alertWebhookUrl !== undefined) return inputs.alertWebhookUrl;
  const webhook = collectorWebhook(inputs.collectorConfig);
  return webhook === undefined ? undefined : `http://otel-collector:${webhook.port}${webhook.path}`;
}

function restricted(user: number, fsGroup = user): IPodSecurityContext {
  return { runAsNonRoot: true, runAsUser: user, runAsGroup: user, fsGroup, seccompProfile: { type: 'RuntimeDefault' } };
}

const CONTAINER_SECURITY = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

interface Component {
  name: string;
  container: IContainer;
  ports: IServicePort[];
  user: number;
  fsGroup?: number;
  volumes?: IVolume[];
}

function component({ name, container, ports, user, fsGroup, volumes }: Component): Manifest[] {
  const labels = componentLabels(name, 'observability');
  return [
    plain(
      new Deployment({
        metadata: { name, labels },
        spec: {
          replicas: 1,
          revisionHistoryLimit: 3,
          selector: { matchLabels: { [NAME_LABEL]: name } },
          template: {
            metadata: { labels },
            spec: {
              automountServiceAccountToken: false,
              enableServiceLinks: false,
              securityContext: restricted(user, fsGroup),
              containers: [{ imagePullPolicy: 'IfNotPresent', securityContext: CONTAINER_SECURITY, ...container }],
              ...(volumes ? { volumes } : {}),
            },
          },
        },
      }),
    ),
    plain(new Service({ metadata: { name, labels }, spec: { type: 'ClusterIP', selector: { [NAME_LABEL]: name }, ports } })),
  ];
}

function configMap(name: string, component: string, data: Record<string, string>, extraLabels: Record<string, string> = {}): Manifest {
  return plain(new ConfigMap({ metadata: { name, labels: { ...componentLabels(name, component), ...extraLabels } }, data }));
}

function collector(inputs: ObservabilityInputs): Manifest[] {
  const webhook = collectorWebhook(inputs.collectorConfig);
  return [
    configMap('otel-collector-config', 'observability', { 'config.yaml': inputs.collectorConfig }),
    ...component({
      name: 'otel-collector',
      user: 10001,
      container: {
        name: 'otel-collector',
        image: inputs.images['otel-collector'],
        args: ['--config=/etc/otelcol/config.yaml'],
        ports: [
          { name: 'otlp-grpc', containerPort: COLLECTOR_OTLP_GRPC },
          { name: 'otlp-http', containerPort: 4318 },
          { name: 'metrics', containerPort: 8888 },
          { name: 'spanmetrics', containerPort: 8889 },
          { name: 'health', containerPort: 13133 },
          ...(webhook === undefined ? [] : [{ name: 'alert-webhook', containerPort: webhook.port }]),
        ],
        readinessProbe: { httpGet: { path: '/', port: 'health' }, periodSeconds: 5 },
        livenessProbe: { httpGet: { path: '/', port: 'health' }, periodSeconds: 15 },
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        volumeMounts: [{ name: 'config', mountPath: '/etc/otelcol', readOnly: true }],
      },
      ports: [
        { name: 'otlp-grpc', port: COLLECTOR_OTLP_GRPC, targetPort: 'otlp-grpc' },
        { name: 'otlp-http', port: 4318, targetPort: 'otlp-http' },
        { name: 'metrics', port: 8888, targetPort: 'metrics' },
        { name: 'spanmetrics', port: 8889, targetPort: 'spanmetrics' },
        ...(webhook === undefined ? [] : [{ name: 'alert-webhook', port: webhook.port, targetPort: 'alert-webhook' }]),
      ],
      volumes: [{ name: 'config', configMap: { name: 'otel-collector-config' } }],
    }),
  ];
}

function jaeger(inputs: ObservabilityInputs): Manifest[] {
  return component({
    name: 'jaeger',
    user: 10001,
    container: {
      name: 'jaeger',
      image: inputs.images.jaeger,
      // OTLP receivers on all interfaces, so the collector's pod reaches them (as in compose).
      env: [{ name: 'JAEGER_LISTEN_HOST', value: '0.0.0.0' }],
      ports: [
        { name: 'ui', containerPort: 16686 },
        { name: 'otlp-grpc', containerPort: 4317 },
        { name: 'otlp-http', containerPort: 4318 },
      ],
      readinessProbe: { tcpSocket: { port: 'ui' }, periodSeconds: 5 },
      resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } },
      volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
    },
    ports: [
      { name: 'ui', port: 16686, targetPort: 'ui' },
      { name: 'otlp-grpc', port: 4317, targetPort: 'otlp-grpc' },
      { name: 'otlp-http', port: 4318, targetPort: 'otlp-http' },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  });
}

function loki(inputs: ObservabilityInputs): Manifest[] {
  return [
    configMap('loki-config', 'observability', { 'loki.yaml': inputs.lokiConfig }),
    ...component({
      name: 'loki',
      user: 10001,
      container: {
        name: 'loki',
        image: inputs.images.loki,
        args: ['-config.file=/etc/loki/loki.yaml'],
        ports: [{ name: 'http', containerPort: 3100 }],
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 10, initialDelaySeconds: 10 },
        resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        volumeMounts: [
          { name: 'config', mountPath: '/etc/loki', readOnly: true },
          { name: 'data', mountPath: '/loki' },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
      ports: [{ name: 'http', port: 3100, targetPort: 'http' }],
      volumes: [
        { name: 'config', configMap: { name: 'loki-config' } },
        { name: 'data', emptyDir: {} },
        { name: 'tmp', emptyDir: {} },
      ],
    }),
  ];
}

/** ConfigMap name of one dashboard file (`service-overview.json` -> `dashboard-service-overview`). */
export function dashboardConfigMapName(file: string): string {
  return `dashboard-${file.replace(/\.json$/, '')}`;
}

function grafana(inputs: ObservabilityInputs): Manifest[] {
  const dashboards = [...inputs.dashboards.keys()].sort();
  return [
    plain(
      new Secret({
        metadata: { name: 'grafana-admin', labels: componentLabels('grafana-admin', 'observability') },
        type: 'Opaque',
        // The compose default (FAULTLINE_GRAFANA_PASSWORD); replace it on a shared cluster.
        stringData: { password: 'faultline' },
      }),
    ),
    configMap('grafana-datasources', 'observability', { 'datasources.yaml': inputs.grafanaDatasources }),
    configMap('grafana-dashboard-provider', 'observability', { 'provider.yaml': inputs.grafanaDashboardProvider }),
    ...dashboards.map((file) => configMap(dashboardConfigMapName(file), 'observability', { [file]: inputs.dashboards.get(file) as string }, { grafana_dashboard: '1' })),
    ...component({
      name: 'grafana',
      user: 472,
      container: {
        name: 'grafana',
        image: inputs.images.grafana,
        env: [
          { name: 'GF_AUTH_ANONYMOUS_ENABLED', value: 'true' },
          { name: 'GF_AUTH_ANONYMOUS_ORG_ROLE', value: 'Viewer' },
          { name: 'GF_SECURITY_ADMIN_PASSWORD', valueFrom: { secretKeyRef: { name: 'grafana-admin', key: 'password' } } },
        ],
        ports: [{ name: 'http', containerPort: 3000 }],
        readinessProbe: { httpGet: { path: '/api/health', port: 'http' }, periodSeconds: 10 },
        resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        volumeMounts: [
          { name: 'data', mountPath: '/var/lib/grafana' },
          { name: 'logs', mountPath: '/var/log/grafana' },
          { name: 'tmp', mountPath: '/tmp' },
          { name: 'datasources', mountPath: '/etc/grafana/provisioning/datasources', readOnly: true },
          { name: 'dashboard-provider', mountPath: '/etc/grafana/provisioning/dashboards', readOnly: true },
          // Where compose mounts the repository's dashboards/ folder: the provider's path, folder `faultline`.
          { name: 'dashboards', mountPath: '/var/lib/grafana/dashboards/faultline', readOnly: true },
        ],
      },
      ports: [{ name: 'http', port: 3000, targetPort: 'http' }],
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'logs', emptyDir: {} },
        { name: 'tmp', emptyDir: {} },
        { name: 'datasources', configMap: { name: 'grafana-datasources' } },
        { name: 'dashboard-provider', configMap: { name: 'grafana-dashboard-provider' } },
        { name: 'dashboards', projected: { sources: dashboards.map((file) => ({ configMap: { name: dashboardConfigMapName(file) } })) } },
      ],
    }),
  ];
}

function prometheus(inputs: ObservabilityInputs): Manifest[] {
  const labels = componentLabels('prometheus', 'observability');
  const selector = { matchLabels: { ...PART_OF } };
  return [
    plain(new ServiceAccount({ metadata: { name: 'prometheus', labels } })),
    plain(
      new Role({
        metadata: { name: 'prometheus', labels },
        rules: [
          { apiGroups: [''], resources: ['services', 'endpoints', 'pods'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
        ],
      }),
    ),
    plain(
      new RoleBinding({
        metadata: { name: 'prometheus', labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'prometheus' },
        subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: NAMESPACE }],
      }),
    ),
    plain(
      new Prometheus({
        metadata: { name: MONITORING_NAME, labels },
        spec: {
          image: inputs.images.prometheus,
          version: imageTag(inputs.images.prometheus),
          replicas: 1,
          serviceAccountName: 'prometheus',
          // Only this namespace's monitors and rules that say they are Faultline's.
          serviceMonitorSelector: selector,
          podMonitorSelector: selector,
          ruleSelector: selector,
          scrapeInterval: SCRAPE_INTERVAL,
          evaluationInterval: SCRAPE_INTERVAL,
          retention: '2d',
          enableFeatures: ['exemplar-storage'],
          alerting: { alertmanagers: [{ namespace: NAMESPACE, name: 'alertmanager', port: 'web', apiVersion: 'v2' }] },
          podMetadata: { labels: { ...PART_OF } },
          securityContext: restricted(1000, 2000),
          resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
        },
      }),
    ),
    // Named as the compose host, so Grafana's datasource (http://prometheus:9090) works unchanged.
    plain(new Service({ metadata: { name: 'prometheus', labels }, spec: { type: 'ClusterIP', selector: { prometheus: MONITORING_NAME }, ports: [{ name: 'web', port: 9090, targetPort: 'web' }] } })),
  ];
}

/** `severity="page"` -> an AlertmanagerConfig matcher. */
function matcher(text: string): { name: string; matchType: '=' | '!=' | '=~' | '!~'; value: string } {
  const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"(.*)"\s*$/.exec(text);
  if (!match) throw new Error(`slo/alertmanager.ts: cannot read the matcher '${text}'`);
  return { name: match[1] as string, matchType: match[2] as '=' | '!=' | '=~' | '!~', value: match[3] as string };
}

function alertmanager(inputs: ObservabilityInputs): Manifest[] {
  const labels = componentLabels('alertmanager', 'observability');
  const { route, receivers, inhibit_rules: inhibitRules } = inputs.alerting;
  const webhookUrl = alertWebhookUrl(inputs);
  return [
    plain(
      new Alertmanager({
        metadata: { name: MONITORING_NAME, labels },
        spec: {
          image: inputs.images.alertmanager,
          version: imageTag(inputs.images.alertmanager),
          replicas: 1,
          alertmanagerConfigSelector: { matchLabels: { ...PART_OF } },
          // The SLO alerts carry no namespace label (their rules aggregate it away): match them as they are.
          alertmanagerConfigMatcherStrategy: { type: 'None' },
          podMetadata: { labels: { ...PART_OF } },
          securityContext: restricted(1000, 2000),
          resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
        },
      }),
    ),
    plain(new Service({ metadata: { name: 'alertmanager', labels }, spec: { type: 'ClusterIP', selector: { alertmanager: MONITORING_NAME }, ports: [{ name: 'web', port: 9093, targetPort: 'web' }] } })),
    plain(
      new AlertmanagerConfig({
        metadata: {
          name: 'slo-alerts',
          labels,
          annotations: {
            'faultline.dev/source': 'slo/alertmanager.ts',
            ...(webhookUrl === undefined ? { 'faultline.dev/receiver': 'no integration: alerts show in Alertmanager and Grafana; render with a webhook URL to post them' } : {}),
          },
        },
        spec: {
          route: {
            receiver: route.receiver,
            groupBy: [...route.group_by],
            groupWait: route.group_wait,
            groupInterval: route.group_interval,
            repeatInterval: route.repeat_interval,
            // The SLO alerts only (every rule slo/generate.ts writes carries sloth_id).
            matchers: [{ name: 'sloth_id', matchType: '=~', value: '.+' }],
          },
          receivers: receivers.map((receiver) => ({
            name: receiver.name,
            ...(webhookUrl === undefined ? {} : { webhookConfigs: [{ url: webhookUrl, sendResolved: true }] }),
          })),
          inhibitRules: inhibitRules.map((rule) => ({ sourceMatch: rule.source_matchers.map(matcher), targetMatch: rule.target_matchers.map(matcher), equal: [...rule.equal] })),
        },
      }),
    ),
  ];
}

/** One ServiceMonitor per scrape job: job = the Service's name, instance = the pod's name (the lab's instance id). */
function serviceMonitors(): Manifest[] {
  const podAsInstance = [{ sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'instance', action: 'replace' as const }];
  const monitor = (name: string, endpoints: IEndpoint[]) =>
    plain(
      new ServiceMonitor({
        metadata: { name, labels: componentLabels(name, 'observability') },
        spec: { selector: { matchLabels: { [NAME_LABEL]: name } }, endpoints },
      }),
    );
  return [
    ...SERVICES.map((node) => monitor(node.name, [{ port: 'http', path: '/metrics', interval: SCRAPE_INTERVAL, relabelings: podAsInstance }])),
    monitor('otel-collector', [
      { port: 'metrics', interval: SCRAPE_INTERVAL },
      // Compose scrapes the span and service-graph metrics as their own job.
      { port: 'spanmetrics', interval: SCRAPE_INTERVAL, relabelings: [{ targetLabel: 'job', replacement: 'otel-collector-spanmetrics', action: 'replace' }] },
    ]),
    monitor('prometheus', [{ port: 'web', interval: SCRAPE_INTERVAL }]),
  ];
}

/** The PrometheusRule of one rule file: the same groups as slo/generated/production/rules/<id>.yaml. */
function prometheusRules(inputs: ObservabilityInputs): Manifest[] {
  return inputs.sloRules.map((file) =>
    plain(
      new PrometheusRule({
        metadata: { name: prometheusRuleName(file.id), labels: componentLabels(prometheusRuleName(file.id), 'observability'), annotations: { 'faultline.dev/source': `slo/generate.ts, as slo/generated/production/rules/${file.id}.yaml` } },
        spec: {
          groups: file.groups.map((group) => ({
            name: group.name,
            ...(group.interval === undefined ? {} : { interval: group.interval }),
            rules: group.rules.map((rule) => ({ ...rule })),
          })),
        },
      }),
    ),
  );
}

export interface OverlayFiles {
  /** File name -> manifests, in kustomization order. */
  files: Map<string, Manifest[]>;
  /** Strategic-merge patches of base objects, by file name. */
  patches: Map<string, Manifest>;
}

/** Every manifest of the observability overlay, by file. */
export function renderObservability(inputs: ObservabilityInputs): OverlayFiles {
  const files = new Map<string, Manifest[]>([
    ['otel-collector.yaml', collector(inputs)],
    ['jaeger.yaml', jaeger(inputs)],
    ['loki.yaml', loki(inputs)],
    ['grafana.yaml', grafana(inputs)],
    ['prometheus.yaml', prometheus(inputs)],
    ['alertmanager.yaml', alertmanager(inputs)],
    ['service-monitors.yaml', serviceMonitors()],
    ['prometheus-rules.yaml', prometheusRules(inputs)],
  ]);
  const patches = new Map<string, Manifest>([
    ['shop-config-patch.yaml', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: SHARED_CONFIG }, data: { FAULTLINE_OTLP_ENDPOINT: `http://otel-collector:${COLLECTOR_OTLP_GRPC}` } }],
  ]);
  return { files, patches };
}

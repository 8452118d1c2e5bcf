// The kustomize base: the shop of runner/topology.ts on a cluster. Per
// service a Deployment (replicas = the lab's instances), a Service and a
// ConfigMap of its wiring; a PodDisruptionBudget where there are replicas;
// one shared ConfigMap and the JWT secret as a Secret. Pure: data in,
// manifests out.
//
// How a service gets its configuration. The kit reads one JSON variable,
// FAULTLINE_SERVICE_CONFIG (demo-services/kit/config.ts), as the lab's
// supervisor and docker-compose.yml hand it over. Here its parts come from
// the ConfigMaps (envFrom) and the Secret, and the Deployment composes them
// with Kubernetes' dependent environment variables: `$(VAR)` in an env value
// is replaced by a variable defined before it. So the instance id is the pod
// name, the gateway's token secret never sits in a ConfigMap, and the base
// alone sends no telemetry (FAULTLINE_OTLP_ENDPOINT is empty) until the
// observability overlay sets the collector's address.
//
// Calls between services go to the dependency's Service: on a cluster Chaos
// Mesh injects network faults into the pods themselves, so there is no fault
// proxy in the path (the lab's per-edge proxies have no place here). A gRPC
// dependency (checkout -> payment) is called on the Service's `grpc` port.

import { Deployment } from 'kubernetes-models/apps/v1';
import type { IContainer, IContainerPort, IEnvVar, IPodSpec, IServicePort } from 'kubernetes-models/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { SERVICES, type ServiceNode } from '../../runner/topology.ts';
import { componentLabels, GRPC_PORT, HTTP_PORT, type Manifest, NAME_LABEL, NAMESPACE, PART_OF, plain } from './manifest.ts';

/** The kit's drain bound (demo-services/kit/service.ts DRAIN_TIMEOUT_MS) and its margin for flushing telemetry (STOP_MARGIN_MS). */
export const KIT_DRAIN_MS = 4_000;
export const KIT_STOP_MARGIN_MS = 3_000;
/** Services that drain longer: checkout waits for its sagas (demo-services/checkout/main.ts SAGA_DRAIN_MS). */
export const SERVICE_DRAIN_MS: Readonly<Record<string, number>> = { checkout: 15_000 };
/** Before SIGTERM, the pod waits this long so Services stop sending it new requests first. */
export const PRE_STOP_SECONDS = 3;
/** Services that serve gRPC, and on which port (the kit's `policies.grpc.port`). */
export const GRPC_SERVICES: ReadonlySet<string> = new Set(SERVICES.flatMap((node) => node.calls.filter((call) => call.mode === 'tcp').map((call) => call.service)));

export const SHARED_CONFIG = 'shop-config';
export const AUTH_SECRET = 'shop-auth';
export const AUTH_SECRET_KEY = 'token-secret';
/** The local-only default docker-compose.yml uses too; replace it on any shared cluster (README). */
export const DEFAULT_AUTH_SECRET = 'faultline-local-lab-secret';
/** The non-root user of the node image (the Dockerfile's `USER node`). */
const NODE_UID = 1000;

export interface ShopOptions {
  /** The shop image (docker-compose.yml's). */
  image: string;
}

/** Seconds Kubernetes waits between SIGTERM and SIGKILL: the pre-stop pause, the service's drain and the kit's margin. */
export function terminationGraceSeconds(service: string): number {
  return PRE_STOP_SECONDS + Math.ceil(((SERVICE_DRAIN_MS[service] ?? KIT_DRAIN_MS) + KIT_STOP_MARGIN_MS) / 1000);
}

/** Where a service reaches a dependency: its Service, on the HTTP or the gRPC port. */
export function dependencyUrl(call: ServiceNode['calls'][number]): string {
  return `http://${call.service}:${call.mode === 'tcp' ? GRPC_PORT : HTTP_PORT}`;
}

function serviceConfigMapName(service: string): string {
  return `${service}-config`;
}

/** The kit's configuration with `$(VAR)` references that the kubelet fills in (see the module comment). */
export function serviceConfigTemplate(service: string): string {
  const fields = [
    `"name":${JSON.stringify(service)}`,
    '"instance":"$(POD_NAME)"',
    '"host":"0.0.0.0"',
    `"port":${HTTP_PORT}`,
    '"otlpEndpoint":"$(FAULTLINE_OTLP_ENDPOINT)"',
    '"telemetry":true',
    '"dependencies":$(FAULTLINE_DEPENDENCIES)',
    '"policies":$(FAULTLINE_POLICIES)',
    '"logLevel":"$(FAULTLINE_LOG_LEVEL)"',
  ];
  return `{${fields.join(',')}}`;
}

/** The policies a service starts with on the cluster: the lab's defaults, plus what the wiring needs. */
function policies(node: ServiceNode): Record<string, unknown> {
  return GRPC_SERVICES.has(node.name) ? { grpc: { port: GRPC_PORT } } : {};
}

function shopContainer(node: ServiceNode, image: string): IContainer {
  const env: IEnvVar[] = [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }];
  if (node.name === 'gateway') {
    // The token secret goes into the policies here, not in a ConfigMap.
    env.push(
      { name: 'FAULTLINE_AUTH_SECRET', valueFrom: { secretKeyRef: { name: AUTH_SECRET, key: AUTH_SECRET_KEY } } },
      { name: 'FAULTLINE_POLICIES', value: '{"gateway":{"auth":{"secret":"$(FAULTLINE_AUTH_SECRET)"}}}' },
    );
  }
  env.push({ name: 'FAULTLINE_SERVICE_CONFIG', value: serviceConfigTemplate(node.name) });
  const ports: IContainerPort[] = [{ name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' }];
  if (GRPC_SERVICES.has(node.name)) ports.push({ name: 'grpc', containerPort: GRPC_PORT, protocol: 'TCP' });
  return {
    name: node.name,
    image,
    imagePullPolicy: 'IfNotPresent',
    command: ['node', '--import', './demo-services/kit/instrument.ts', `demo-services/${node.name}/main.ts`],
    ports,
    envFrom: [{ configMapRef: { name: SHARED_CONFIG } }, { configMapRef: { name: serviceConfigMapName(node.name) } }],
    env,
    startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
  };
}

function podSpec(node: ServiceNode, image: string): IPodSpec {
  return {
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: terminationGraceSeconds(node.name),
    securityContext: { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, fsGroup: NODE_UID, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [shopContainer(node, image)],
    volumes: [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }],
  };
}

function serviceManifests(node: ServiceNode, image: string): Manifest[] {
  const labels = componentLabels(node.name, 'shop');
  const selector = { [NAME_LABEL]: node.name };
  const manifests: Manifest[] = [
    plain(
      new ConfigMap({
        metadata: { name: serviceConfigMapName(node.name), labels },
        data: {
          FAULTLINE_DEPENDENCIES: JSON.stringify(Object.fromEntries(node.calls.map((call) => [call.service, dependencyUrl(call)]))),
          ...(node.name === 'gateway' ? {} : { FAULTLINE_POLICIES: JSON.stringify(policies(node)) }),
        },
      }),
    ),
    plain(
      new Deployment({
        metadata: { name: node.name, labels },
        spec: {
          replicas: node.instances,
          revisionHistoryLimit: 3,
          selector: { matchLabels: selector },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: { metadata: { labels }, spec: podSpec(node, image) },
        },
      }),
    ),
    plain(
      new Service({
        metadata: { name: node.name, labels },
        spec: {
          type: 'ClusterIP',
          selector,
          ports: [
            { name: 'http', port: HTTP_PORT, targetPort: 'http', protocol: 'TCP' },
            ...(GRPC_SERVICES.has(node.name) ? [{ name: 'grpc', port: GRPC_PORT, targetPort: 'grpc', protocol: 'TCP' } satisfies IServicePort] : []),
          ],
        },
      }),
    ),
  ];
  if (node.instances > 1) {
    manifests.push(plain(new PodDisruptionBudget({ metadata: { name: node.name, labels }, spec: { minAvailable: node.instances - 1, selector: { matchLabels: selector } } })));
  }
  return manifests;
}

export interface BaseFiles {
  /** File name -> manifests, in kustomization order. */
  files: Map<string, Manifest[]>;
}

/** Every manifest of the base, by file. */
export function renderBase(options: ShopOptions): BaseFiles {
  const files = new Map<string, Manifest[]>();
  files.set('namespace.yaml', [plain(new Namespace({ metadata: { name: NAMESPACE, labels: { ...PART_OF } } }))]);
  files.set('shop-config.yaml', [
    plain(
      new ConfigMap({
        metadata: { name: SHARED_CONFIG, labels: componentLabels(SHARED_CONFIG, 'shop') },
        data: {
          // Empty: no telemetry export until an overlay names a collector (overlays/observability does).
          FAULTLINE_OTLP_ENDPOINT: '',
          FAULTLINE_LOG_LEVEL: 'info',
          FAULTLINE_SEED: '1',
          // The lab's supervisor sets the same (runner/supervisor.ts): fewer malloc arenas, a fixed mmap threshold.
          MALLOC_ARENA_MAX: '2',
          MALLOC_MMAP_THRESHOLD_: '131072',
        },
      }),
    ),
    plain(
      new Secret({
        metadata: { name: AUTH_SECRET, labels: componentLabels(AUTH_SECRET, 'shop') },
        type: 'Opaque',
        stringData: { [AUTH_SECRET_KEY]: DEFAULT_AUTH_SECRET },
      }),
    ),
  ]);
  for (const node of SERVICES) files.set(`${node.name}.yaml`, serviceManifests(node, options.image));
  return { files };
}

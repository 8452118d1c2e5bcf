// The lab on Kubernetes, checked without a cluster: the committed manifests
// are what render.ts makes of the topology, the SLO specs and the k6
// scripts; every object (the base and each overlay as `kubectl kustomize`
// renders them, every scenario's Chaos Mesh export, the k6 TestRuns, the
// PrometheusRules) validates against its API's schema; and the parts line up
// (Services select pods and ports, references resolve, monitors find their
// ports, rules parse with promtool, images are pinned, every Chaos Mesh
// selector finds a workload of the base, each service's composed
// configuration is the topology's). Where kubectl, promtool or the Chaos
// Mesh schemas are missing, the checks that need them are skipped with a
// note on stderr and in their titles.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { CHAOS_MESH_SCHEMA_DIR, chaosMeshSchemasAvailable, loadChaosMeshCrds } from '../../chaos/chaos-mesh/crd-validation.ts';
import { exportChaosMesh } from '../../chaos/chaos-mesh/export.ts';
import { loadScenarioForExport } from '../../chaos/chaos-mesh/scenario-file.ts';
import { alertmanagerConfig } from '../../slo/alertmanager.ts';
import { prometheusRuleName } from '../../slo/generate.ts';
import { SERVICES } from '../../runner/topology.ts';
import { K6_IMAGE } from './load.ts';
import { GRPC_PORT, HTTP_PORT, KUBERNETES_DIR, type Manifest, NAME_LABEL, NAMESPACE, PROJECT_ROOT } from './manifest.ts';
import { COLLECTOR_OTLP_GRPC } from './observability.ts';
import { kustomizeOverlay, loadScenarios, main, OVERLAYS, renderKubernetes, staleKubernetesFiles } from './render.ts';
import { hasModel, loadK6OperatorCrds, validateModel } from './schemas.ts';
import { AUTH_SECRET, AUTH_SECRET_KEY, DEFAULT_AUTH_SECRET, KIT_DRAIN_MS, KIT_STOP_MARGIN_MS, PRE_STOP_SECONDS, SERVICE_DRAIN_MS, terminationGraceSeconds } from './shop.ts';

type Json = Record<string, unknown>;
type Obj = Manifest & { spec?: Json; data?: Record<string, string>; stringData?: Record<string, string> };

function hasCommand(command: string, args = ['--version']): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).error === undefined;
}

const kubectlMissing = !hasCommand('kubectl', ['version', '--client']);
const promtoolMissing = !hasCommand('promtool');
const chaosSchemas = await chaosMeshSchemasAvailable();
const note = (what: string) => process.stderr.write(`deploy/kubernetes/kubernetes.test.ts: SKIPPING ${what}\n`);
if (kubectlMissing) note('`kubectl kustomize` (kubectl is not installed); the consistency checks read the generated files and apply the overlay patch themselves');
if (promtoolMissing) note('promtool check rules (promtool is not installed: apt-get install prometheus)');
if (!chaosSchemas) note(`the Chaos Mesh CRD validation (no schemas at ${CHAOS_MESH_SCHEMA_DIR})`);
const titled = (title: string, missing: boolean, why: string) => (missing ? `${title} (SKIPPED: ${why})` : title);

function documents(text: string, where: string): Obj[] {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`${where}: ${document.errors[0]?.message}`);
    const value = document.toJS() as Obj | null;
    return value === null ? [] : [value];
  });
}

function readGenerated(folder: string): Obj[] {
  const kustomization = parse(readFileSync(join(KUBERNETES_DIR, folder, 'kustomization.yaml'), 'utf8')) as { namespace: string; resources: string[]; patches?: Array<{ path: string }> };
  const objects = kustomization.resources.flatMap((resource) =>
    resource.endsWith('.yaml') ? documents(readFileSync(join(KUBERNETES_DIR, folder, resource), 'utf8'), `${folder}/${resource}`) : readGenerated(join(folder, resource)),
  );
  for (const object of objects) if (object.kind !== 'Namespace') object.metadata.namespace = kustomization.namespace;
  // The only patches the generator writes are ConfigMap data merges.
  for (const { path } of kustomization.patches ?? []) {
    for (const patch of documents(readFileSync(join(KUBERNETES_DIR, folder, path), 'utf8'), path)) {
      const target = objects.find((object) => object.kind === patch.kind && object.metadata.name === patch.metadata.name);
      if (!target) throw new Error(`${folder}/${path}: patches a ${patch.kind} ${patch.metadata.name} that is not there`);
      target.data = { ...target.data, ...patch.data };
    }
  }
  return objects;
}

/** Each overlay's objects: what `kubectl kustomize` renders, or (without kubectl) the generated files with the patch applied. Rendered once per overlay. */
const overlays = new Map<string, Obj[]>(Object.entries(OVERLAYS).map(([name, folder]) => [name, kubectlMissing ? readGenerated(folder) : documents(kustomizeOverlay(name), `kubectl kustomize ${folder}`)]));
const base = overlays.get('base') as Obj[];
const observability = overlays.get('observability') as Obj[];
const scenarios = readdirSync(join(PROJECT_ROOT, 'scenarios')).filter((file) => file.endsWith('.yaml')).map((file) => basename(file, '.yaml')).sort();
const loadObjects = new Map((await loadScenarios()).map((scenario) => [scenario, documents(readFileSync(join(KUBERNETES_DIR, 'load', `${scenario}.yaml`), 'utf8'), `load/${scenario}.yaml`)]));

const of = (objects: Obj[], kind: string) => objects.filter((object) => object.kind === kind);
const find = (objects: Obj[], kind: string, name: string) => objects.find((object) => object.kind === kind && object.metadata.name === name);
const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) => Object.entries(selector).every(([key, value]) => labels?.[key] === value);

interface PodTemplate {
  owner: string;
  labels: Record<string, string>;
  spec: { containers: Array<{ name: string; image: string; ports?: Array<{ name?: string; containerPort: number }>; env?: Json[]; envFrom?: Json[] }>; volumes?: Json[] };
}

/**
 * The pods each workload makes: Deployments' templates, and the pods the
 * Prometheus Operator makes for a Prometheus or Alertmanager (labelled
 * `prometheus: <name>` / `alertmanager: <name>`, serving the port `web`).
 */
function pods(objects: Obj[]): PodTemplate[] {
  const deployments = of(objects, 'Deployment').map((deployment) => {
    const template = (deployment.spec as { template: { metadata: { labels: Record<string, string> }; spec: PodTemplate['spec'] } }).template;
    return { owner: `Deployment ${deployment.metadata.name}`, labels: template.metadata.labels, spec: template.spec };
  });
  const operated = [
    ['Prometheus', 'prometheus', 9090],
    ['Alertmanager', 'alertmanager', 9093],
  ] as const;
  const managed = operated.flatMap(([kind, label, port]) =>
    of(objects, kind).map((resource) => ({
      owner: `${kind} ${resource.metadata.name}`,
      labels: { [label]: resource.metadata.name, 'app.kubernetes.io/name': label },
      spec: { containers: [{ name: label, image: String(resource.spec?.image), ports: [{ name: 'web', containerPort: port }] }] },
    })),
  );
  return [...deployments, ...managed];
}

/** Kubernetes' `$(VAR)` expansion of env values, as the kubelet does it (`$$` escapes a `$`; an unknown name stays as written). */
function expand(value: string, env: ReadonlyMap<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) => (name === undefined ? '$' : (env.get(name) ?? whole)));
}

function secretValue(secret: Obj | undefined, key: string): string | undefined {
  if (!secret) return undefined;
  return secret.stringData?.[key] ?? (secret.data?.[key] === undefined ? undefined : Buffer.from(secret.data[key] as string, 'base64').toString('utf8'));
}

/** The environment a container of `objects` starts with: envFrom first, then env in order with expansion. */
function containerEnv(objects: Obj[], container: PodTemplate['spec']['containers'][number], podName: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const source of container.envFrom ?? []) {
    const ref = (source.configMapRef ?? source.secretRef) as { name: string };
    const object = find(objects, source.configMapRef ? 'ConfigMap' : 'Secret', ref.name);
    for (const [key, value] of Object.entries({ ...object?.data, ...object?.stringData })) env.set(key, value);
  }
  for (const variable of container.env ?? []) {
    const { name, value, valueFrom } = variable as { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } };
    if (value !== undefined) env.set(name, expand(value, env));
    else if (valueFrom?.fieldRef?.fieldPath === 'metadata.name') env.set(name, podName);
    else if (valueFrom?.secretKeyRef) env.set(name, secretValue(find(objects, 'Secret', valueFrom.secretKeyRef.name), valueFrom.secretKeyRef.key) ?? '');
    else if (valueFrom?.configMapKeyRef) env.set(name, find(objects, 'ConfigMap', valueFrom.configMapKeyRef.name)?.data?.[valueFrom.configMapKeyRef.key] ?? '');
  }
  return env;
}

/** Every ConfigMap or Secret a pod names, with the key when it names one. */
function references(template: PodTemplate): Array<{ kind: 'ConfigMap' | 'Secret'; name: string; key?: string; where: string }> {
  const found: Array<{ kind: 'ConfigMap' | 'Secret'; name: string; key?: string; where: string }> = [];
  for (const container of template.spec.containers) {
    const where = `${template.owner} container ${container.name}`;
    for (const source of container.envFrom ?? []) {
      const { configMapRef, secretRef } = source as { configMapRef?: { name: string }; secretRef?: { name: string } };
      if (configMapRef) found.push({ kind: 'ConfigMap', name: configMapRef.name, where });
      if (secretRef) found.push({ kind: 'Secret', name: secretRef.name, where });
    }
    for (const variable of container.env ?? []) {
      const from = (variable as { valueFrom?: { configMapKeyRef?: { name: string; key: string }; secretKeyRef?: { name: string; key: string } } }).valueFrom;
      if (from?.configMapKeyRef) found.push({ kind: 'ConfigMap', ...from.configMapKeyRef, where });
      if (from?.secretKeyRef) found.push({ kind: 'Secret', ...from.secretKeyRef, where });
    }
  }
  for (const volume of template.spec.volumes ?? []) {
    const { configMap, secret, projected } = volume as { configMap?: { name: string }; secret?: { secretName: string }; projected?: { sources: Array<{ configMap?: { name: string }; secret?: { name: string } }> } };
    const where = `${template.owner} volume ${String(volume.name)}`;
    if (configMap) found.push({ kind: 'ConfigMap', name: configMap.name, where });
    if (secret) found.push({ kind: 'Secret', name: secret.secretName, where });
    for (const source of projected?.sources ?? []) {
      if (source.configMap) found.push({ kind: 'ConfigMap', name: source.configMap.name, where });
      if (source.secret) found.push({ kind: 'Secret', name: source.secret.name, where });
    }
  }
  return found;
}

/** Image references must name a version tag (not latest) or a digest; a registry with a port is not a tag. */
const PINNED_IMAGE = /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9][\w./-]*(?::(?!latest(?:@|$))\w[\w.-]*)?(?:@sha256:[a-f0-9]{64})?$/;
function pinned(image: string): boolean {
  const withoutRegistryPort = image.replace(/^[a-z0-9.-]+:\d+\//, '');
  return PINNED_IMAGE.test(image) && (/@sha256:[a-f0-9]{64}$/.test(image) || /:\w[\w.-]*$/.test(withoutRegistryPort));
}

describe('kubernetes: generated files', () => {
  it('the committed base, overlays and load manifests are what render.ts makes of the lab today', async () => {
    const files = await renderKubernetes();
    expect(await staleKubernetesFiles(files), 'stale: run `node deploy/kubernetes/render.ts --write`').toEqual([]);
    // Regenerated from the SLO specs, the k6 scripts and the compose pins at test time, not copied:
    expect([...files.keys()].filter((file) => file.startsWith('load/')).sort()).toEqual([...loadObjects.keys()].map((scenario) => `load/${scenario}.yaml`));
  });

  it('the staleness check names a changed file and a file no longer generated', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-k8s-'));
    try {
      const files = new Map([['base/a.yaml', 'a: 1\n']]);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(join(dir, 'base'), { recursive: true });
      await writeFile(join(dir, 'base', 'a.yaml'), 'a: 2\n');
      await writeFile(join(dir, 'base', 'old.yaml'), 'b: 1\n');
      expect(await staleKubernetesFiles(files, dir)).toEqual(['base/a.yaml', 'base/old.yaml']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the CLI: --check passes on the committed files; bad flags and overlays get one line and exit 2', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(['--check'], (text) => out.push(text), (text) => err.push(text))).toBe(0);
    expect(out.join('')).toMatch(/up to date/);
    expect(await main(['--bogus'], () => undefined, (text) => err.push(text))).toBe(2);
    expect(await main(['--overlay', 'nope'], () => undefined, (text) => err.push(text))).toBe(2);
    expect(err).toHaveLength(2);
    expect(err[1]).toBe("--overlay: no overlay 'nope' (known: base, observability)\n");
  });

  it.skipIf(kubectlMissing)(titled('kubectl kustomize renders every overlay into namespaced objects', kubectlMissing, 'kubectl is not installed'), () => {
    for (const [name, objects] of overlays) {
      expect(objects.length, name).toBeGreaterThan(0);
      for (const object of objects) if (object.kind !== 'Namespace') expect(object.metadata.namespace, `${name}: ${object.kind} ${object.metadata.name}`).toBe(NAMESPACE);
    }
    // Without kubectl the checks read the files themselves: that reading is exactly what kubectl renders.
    const byKey = (objects: Obj[]) => [...objects].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
    for (const [name, folder] of Object.entries(OVERLAYS)) expect(byKey(readGenerated(folder)), name).toEqual(byKey(overlays.get(name) as Obj[]));
    // The overlay is the base plus the stack: nothing of the base is lost.
    const key = (object: Obj) => `${object.kind}/${object.metadata.name}`;
    expect(observability.map(key)).toEqual(expect.arrayContaining(base.map(key)));
  });
});

describe('kubernetes: every object validates against its API schema', () => {
  it.each([...overlays.keys()])('%s: every rendered object (kubernetes-models, @kubernetes-models/prometheus-operator)', (name) => {
    const problems = (overlays.get(name) as Obj[]).flatMap((object) => validateModel(object).map((problem) => `${object.kind} ${object.metadata.name}: ${problem}`));
    expect(problems).toEqual([]);
  });

  it('the validators catch a wrong type, a missing required field and an unknown kind', () => {
    const service = structuredClone(find(base, 'Service', 'payment') as Obj);
    ((service.spec as { ports: Json[] }).ports[0] as Json).port = 'eighty';
    expect(validateModel(service)).toEqual(['spec.ports.0.port: must be integer']);
    const deployment = structuredClone(find(base, 'Deployment', 'payment') as Obj);
    delete (deployment.spec as Json).selector;
    expect(validateModel(deployment).join()).toMatch(/selector/);
    expect(validateModel({ apiVersion: 'v1', kind: 'Nonsense' })).toEqual(['v1 Nonsense: no schema known for this kind']);
  });

  it('every k6 TestRun validates against the k6 operator CRD, and its ConfigMap against Kubernetes', async () => {
    const crds = await loadK6OperatorCrds();
    expect(crds.kinds).toEqual(['TestRun']);
    expect([...loadObjects.keys()]).toEqual(scenarios.filter((scenario) => existsSync(join(PROJECT_ROOT, 'load', 'k6', `${scenario}.ts`))));
    for (const [scenario, objects] of loadObjects) {
      expect(objects.map((object) => object.kind), scenario).toEqual(['ConfigMap', 'TestRun']);
      for (const object of objects) {
        const problems = hasModel(object.apiVersion, object.kind) ? validateModel(object) : crds.validate(object);
        expect(problems, `${scenario}: ${object.kind}`).toEqual([]);
      }
    }
    // The CRD check is not a rubber stamp: a misspelt field and a missing parallelism are refused.
    const testRun = structuredClone(loadObjects.get('payment-outage')?.[1] as Obj);
    (testRun.spec as Json).paralelism = 2;
    delete (testRun.spec as Json).parallelism;
    expect(crds.validate(testRun).join('\n')).toMatch(/parallelism/);
    expect(crds.validate(testRun).join('\n')).toMatch(/paralelism/);
  });

  it('every PrometheusRule holds the SLO rules, and the AlertmanagerConfig the routing, of slo/', () => {
    const rules = of(observability, 'PrometheusRule');
    expect(rules.length).toBeGreaterThan(0);
    const production = readdirSync(join(PROJECT_ROOT, 'slo', 'generated', 'production', 'rules')).filter((file) => file.endsWith('.yaml'));
    expect(rules.map((rule) => rule.metadata.name).sort()).toEqual(production.map((file) => prometheusRuleName(basename(file, '.yaml'))).sort());
    expect(rules.map((rule) => rule.metadata.name)).toContain('faultline-telemetry-alerts');
    const config = find(observability, 'AlertmanagerConfig', 'slo-alerts') as Obj;
    const expected = alertmanagerConfig();
    expect(config.spec).toMatchObject({
      route: { receiver: expected.route.receiver, groupBy: expected.route.group_by, groupWait: expected.route.group_wait },
      receivers: expected.receivers.map((receiver) => ({ name: receiver.name })),
    });
    const asMatchers = (list: string[]) => list.map((text) => { const [, name, matchType, value] = /^(\w+)(=~|!~|!=|=)"(.*)"$/.exec(text) ?? []; return { name, matchType, value }; });
    expect((config.spec as { inhibitRules: unknown[] }).inhibitRules).toEqual(
      expected.inhibit_rules.map((rule) => ({ sourceMatch: asMatchers(rule.source_matchers), targetMatch: asMatchers(rule.target_matchers), equal: rule.equal })),
    );
    expect((config.spec as { route: Json }).route).toMatchObject({ groupInterval: expected.route.group_interval, repeatInterval: expected.route.repeat_interval });
  });

  it("`faultline slo generate`'s PrometheusRules validate, and are the ones the overlay applies", () => {
    for (const scale of ['production', 'lab-x100']) {
      const dir = join(PROJECT_ROOT, 'slo', 'generated', scale, 'prometheus-operator');
      const files = readdirSync(dir).filter((file) => file.endsWith('.yaml'));
      expect(files.sort()).toEqual(readdirSync(join(PROJECT_ROOT, 'slo', 'generated', scale, 'rules')).filter((file) => file.endsWith('.yaml')).sort());
      for (const file of files) {
        const rule = parse(readFileSync(join(dir, file), 'utf8')) as Obj;
        expect(validateModel(rule), `${scale}/${file}`).toEqual([]);
        if (scale !== 'production') continue;
        const applied = find(observability, 'PrometheusRule', rule.metadata.name) as Obj;
        expect(applied.spec, file).toEqual(rule.spec);
        for (const [key, value] of Object.entries(rule.metadata.labels ?? {})) expect(applied.metadata.labels?.[key]).toBe(value);
      }
    }
  });

  it.skipIf(promtoolMissing)(titled('every PrometheusRule expression passes promtool check rules', promtoolMissing, 'promtool is not installed'), async () => {
    const dir = await mkdtemp(join(tmpdir(), 'faultline-k8s-rules-'));
    try {
      const files: string[] = [];
      for (const rule of of(observability, 'PrometheusRule')) {
        const file = join(dir, `${rule.metadata.name}.yaml`);
        await writeFile(file, stringify({ groups: (rule.spec as { groups: unknown }).groups }));
        files.push(file);
      }
      const result = spawnSync('promtool', ['check', 'rules', ...files], { encoding: 'utf8' });
      expect(result.status, result.stdout + result.stderr).toBe(0);
      expect((result.stdout.match(/SUCCESS: \d+ rules found/g) ?? []).length).toBe(files.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kubernetes: the parts line up', () => {
  describe.each([...overlays.keys()])('%s', (name) => {
    const objects = overlays.get(name) as Obj[];
    const templates = pods(objects);

    it('every Service selects the pods of a workload and targets ports they declare', () => {
      for (const service of of(objects, 'Service')) {
        const spec = service.spec as { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort?: string | number }> };
        const selected = templates.filter((template) => matches(spec.selector, template.labels));
        expect(selected.length, `Service ${service.metadata.name} selects no pods`).toBeGreaterThan(0);
        for (const template of selected) {
          const declared = template.spec.containers.flatMap((container) => container.ports ?? []);
          for (const port of spec.ports) {
            const target = port.targetPort ?? port.port;
            expect(
              declared.some((candidate) => (typeof target === 'number' ? candidate.containerPort === target : candidate.name === target)),
              `Service ${service.metadata.name} port ${port.name} -> ${String(target)}: not declared by ${template.owner}`,
            ).toBe(true);
          }
        }
      }
    });

    it('every ConfigMap and Secret a pod names exists, with the key it names', () => {
      const refs = templates.flatMap(references);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) {
        const object = find(objects, ref.kind, ref.name);
        expect(object, `${ref.where}: ${ref.kind} ${ref.name}`).toBeDefined();
        if (ref.key !== undefined) expect(Object.keys({ ...object?.data, ...object?.stringData }), `${ref.where}: ${ref.kind} ${ref.name} key ${ref.key}`).toContain(ref.key);
      }
    });

    it('every image is pinned by a version tag or a digest', () => {
      const images = [...templates.map((template) => [template.owner, template.spec.containers.map((container) => container.image)] as const)];
      for (const [owner, list] of images) for (const image of list) expect(pinned(image), `${owner}: ${image}`).toBe(true);
      expect(pinned('grafana/grafana:latest')).toBe(false);
      expect(pinned('grafana/grafana')).toBe(false);
      expect(pinned('localhost:5000/shop')).toBe(false);
      expect(pinned('localhost:5000/shop:0.1.0')).toBe(true);
      expect(pinned(`busybox@sha256:${'a'.repeat(64)}`)).toBe(true);
    });

    it('the shop runs as the topology says: replicas, a PodDisruptionBudget where replicated, probes, non-root read-only, drain-length grace', () => {
      for (const node of SERVICES) {
        const deployment = find(objects, 'Deployment', node.name) as Obj;
        expect(deployment, node.name).toBeDefined();
        const spec = deployment.spec as { replicas: number; template: { spec: Json & { containers: Array<Json & { name: string }> } } };
        expect(spec.replicas, node.name).toBe(node.instances);
        const pdb = find(objects, 'PodDisruptionBudget', node.name);
        if (node.instances > 1) expect((pdb?.spec as { minAvailable: number }).minAvailable, node.name).toBe(node.instances - 1);
        else expect(pdb, node.name).toBeUndefined();
        const pod = spec.template.spec;
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
        const [container] = pod.containers;
        expect(container?.name).toBe(node.name);
        expect(container).toMatchObject({
          livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
          readinessProbe: { httpGet: { path: '/readyz', port: 'http' } },
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
          lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
        });
        expect(pod.terminationGracePeriodSeconds, node.name).toBe(terminationGraceSeconds(node.name));
      }
    });

    it("each service's composed configuration is the topology's: its Services for dependencies, the pod's name for instance, the Secret's token", () => {
      const portsOf = (service: string) => (find(objects, 'Service', service)?.spec as { ports: Array<{ name: string; port: number }> }).ports;
      for (const node of SERVICES) {
        const template = templates.find((candidate) => candidate.owner === `Deployment ${node.name}`) as PodTemplate;
        const env = containerEnv(objects, template.spec.containers[0] as PodTemplate['spec']['containers'][number], `${node.name}-5d4f8-abcde`);
        const raw = env.get('FAULTLINE_SERVICE_CONFIG') ?? '';
        expect(raw, `${node.name}: every $(VAR) is defined before use`).not.toMatch(/\$\(/);
        const config = JSON.parse(raw) as { name: string; instance: string; host: string; port: number; otlpEndpoint: string; dependencies: Record<string, string>; policies: Json };
        expect(config).toMatchObject({ name: node.name, instance: `${node.name}-5d4f8-abcde`, host: '0.0.0.0', port: HTTP_PORT });
        expect(Object.keys(config.dependencies).sort()).toEqual(node.calls.map((call) => call.service).sort());
        for (const call of node.calls) {
          const url = new URL(config.dependencies[call.service] as string);
          const portName = call.mode === 'tcp' ? 'grpc' : 'http';
          expect(url.hostname, `${node.name} -> ${call.service}`).toBe(call.service);
          expect(portsOf(call.service).find((port) => port.name === portName)?.port, `${node.name} -> ${call.service} on ${portName}`).toBe(Number(url.port));
          // A gRPC dependency binds the port its callers are given.
          if (call.mode === 'tcp') {
            const dependency = templates.find((candidate) => candidate.owner === `Deployment ${call.service}`) as PodTemplate;
            const depConfig = JSON.parse(containerEnv(objects, dependency.spec.containers[0] as PodTemplate['spec']['containers'][number], 'x').get('FAULTLINE_SERVICE_CONFIG') ?? '{}') as { policies: Json };
            expect(depConfig.policies).toMatchObject({ grpc: { port: GRPC_PORT } });
          }
        }
        if (node.name === 'gateway') expect(config.policies).toEqual({ gateway: { auth: { secret: secretValue(find(objects, 'Secret', AUTH_SECRET), AUTH_SECRET_KEY) } } });
        // The base sends no telemetry; the observability overlay points every service at its collector.
        expect(config.otlpEndpoint).toBe(name === 'observability' ? `http://otel-collector:${COLLECTOR_OTLP_GRPC}` : '');
      }
      expect(secretValue(find(objects, 'Secret', AUTH_SECRET), AUTH_SECRET_KEY)).toBe(DEFAULT_AUTH_SECRET);
    });
  });

  it('the grace periods follow the kit: its drain bound and margin, and checkout’s saga drain, as the sources define them', () => {
    const kit = readFileSync(join(PROJECT_ROOT, 'demo-services', 'kit', 'service.ts'), 'utf8');
    const checkout = readFileSync(join(PROJECT_ROOT, 'demo-services', 'checkout', 'main.ts'), 'utf8');
    const read = (text: string, name: string) => Number(new RegExp(`const ${name}\\s*=\\s*([\\d_]+)`).exec(text)?.[1]?.replaceAll('_', '') ?? NaN);
    expect(read(kit, 'DRAIN_TIMEOUT_MS')).toBe(KIT_DRAIN_MS);
    expect(read(kit, 'STOP_MARGIN_MS')).toBe(KIT_STOP_MARGIN_MS);
    expect(read(checkout, 'SAGA_DRAIN_MS')).toBe(SERVICE_DRAIN_MS.checkout);
    expect(terminationGraceSeconds('checkout')).toBe(PRE_STOP_SECONDS + 18);
    expect(terminationGraceSeconds('bank')).toBe(PRE_STOP_SECONDS + 7);
  });

  it('every ServiceMonitor selects a Service with the port it scrapes, and every shop service and the collector are scraped', () => {
    const services = of(observability, 'Service');
    const monitors = of(observability, 'ServiceMonitor');
    for (const monitor of monitors) {
      const spec = monitor.spec as { selector: { matchLabels: Record<string, string> }; endpoints: Array<{ port: string }> };
      const selected = services.filter((service) => matches(spec.selector.matchLabels, service.metadata.labels));
      expect(selected.length, `ServiceMonitor ${monitor.metadata.name} selects no Service`).toBeGreaterThan(0);
      for (const service of selected) {
        const names = (service.spec as { ports: Array<{ name: string }> }).ports.map((port) => port.name);
        for (const endpoint of spec.endpoints) expect(names, `ServiceMonitor ${monitor.metadata.name} -> Service ${service.metadata.name}`).toContain(endpoint.port);
      }
    }
    const scraped = new Set(monitors.flatMap((monitor) => services.filter((service) => matches((monitor.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels, service.metadata.labels)).map((service) => service.metadata.name)));
    expect([...scraped].sort()).toEqual([...SERVICES.map((node) => node.name), 'otel-collector', 'prometheus'].sort());
    // The Prometheus picks these monitors and rules up: its selectors match their labels.
    const prometheus = of(observability, 'Prometheus')[0] as Obj;
    const { serviceMonitorSelector, ruleSelector, alerting } = prometheus.spec as { serviceMonitorSelector: { matchLabels: Record<string, string> }; ruleSelector: { matchLabels: Record<string, string> }; alerting: { alertmanagers: Array<{ name: string; port: string }> } };
    for (const monitor of monitors) expect(matches(serviceMonitorSelector.matchLabels, monitor.metadata.labels), monitor.metadata.name).toBe(true);
    for (const rule of of(observability, 'PrometheusRule')) expect(matches(ruleSelector.matchLabels, rule.metadata.labels), rule.metadata.name).toBe(true);
    for (const target of alerting.alertmanagers) expect((find(observability, 'Service', target.name)?.spec as { ports: Array<{ name: string }> }).ports.map((port) => port.name)).toContain(target.port);
    const alertmanager = of(observability, 'Alertmanager')[0] as Obj;
    for (const config of of(observability, 'AlertmanagerConfig')) {
      expect(matches((alertmanager.spec as { alertmanagerConfigSelector: { matchLabels: Record<string, string> } }).alertmanagerConfigSelector.matchLabels, config.metadata.labels)).toBe(true);
    }
  });

  it("the compose config files the overlay carries name hosts and ports of the overlay's Services", () => {
    const servicePorts = new Map(of(observability, 'Service').map((service) => [service.metadata.name, (service.spec as { ports: Array<{ port: number }> }).ports.map((port) => port.port)]));
    const carried = ['otel-collector-config', 'grafana-datasources'].flatMap((name) => Object.values(find(observability, 'ConfigMap', name)?.data ?? {}));
    const urls = carried.flatMap((text) => [...text.matchAll(/(?:https?:\/\/)?\b([a-z][a-z-]+):(\d{2,5})\b/g)]).filter((match) => !['0.0.0.0', 'localhost'].includes(match[1] as string));
    expect(urls.length).toBeGreaterThan(4);
    for (const [whole, host, port] of urls) expect(servicePorts.get(host as string), `${whole}`).toContain(Number(port));
    // Every port the collector's config listens on is one its pod declares (a new receiver needs a port here too).
    const collectorPorts = (pods(observability).find((template) => template.owner === 'Deployment otel-collector')?.spec.containers[0]?.ports ?? []).map((port) => port.containerPort);
    const listening = [...(find(observability, 'ConfigMap', 'otel-collector-config')?.data?.['config.yaml'] ?? '').matchAll(/0\.0\.0\.0:(\d+)|port: (\d+)/g)].map((match) => Number(match[1] ?? match[2]));
    expect(listening.length).toBeGreaterThan(3);
    for (const port of listening) expect(collectorPorts, `collector port ${port}`).toContain(port);
    // Alertmanager posts to a URL the overlay serves (the collector's webhook receiver, as in compose), if anywhere.
    for (const receiver of (find(observability, 'AlertmanagerConfig', 'slo-alerts')?.spec as { receivers: Array<{ webhookConfigs?: Array<{ url: string }> }> }).receivers) {
      for (const { url } of receiver.webhookConfigs ?? []) {
        const parsed = new URL(url);
        expect(servicePorts.get(parsed.hostname), url).toContain(Number(parsed.port));
      }
    }
    // Grafana gets every dashboard of dashboards/faultline/ where the provider looks.
    const dashboards = readdirSync(join(PROJECT_ROOT, 'dashboards', 'faultline')).filter((file) => file.endsWith('.json')).sort();
    const carriedDashboards = of(observability, 'ConfigMap').flatMap((map) => (map.metadata.labels?.grafana_dashboard === '1' ? Object.keys(map.data ?? {}) : [])).sort();
    expect(carriedDashboards).toEqual(dashboards);
    for (const file of dashboards) {
      const map = of(observability, 'ConfigMap').find((candidate) => candidate.data?.[file] !== undefined);
      expect(map?.data?.[file]).toBe(readFileSync(join(PROJECT_ROOT, 'dashboards', 'faultline', file), 'utf8'));
    }
  });

  it('each k6 TestRun runs its script from its ConfigMap, against the gateway, with the token secret of the base and a pinned image', () => {
    for (const [scenario, [configMap, testRun]] of loadObjects) {
      const spec = (testRun as Obj).spec as { parallelism: number; script: { configMap: { name: string; file: string } }; runner: { image: string; env: Json[] } };
      expect(spec.parallelism, scenario).toBeGreaterThan(1);
      expect(spec.script.configMap.name).toBe(configMap?.metadata.name);
      const script = configMap?.data?.[spec.script.configMap.file] ?? '';
      // One module: only k6's own imports are left, and the scenario's thresholds are in it.
      const imports = [...script.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1] as string);
      expect(imports.length, scenario).toBeGreaterThan(0);
      for (const module of imports) expect(module, `${scenario}: import`).toMatch(/^k6(\/|$)/);
      expect(script).not.toMatch(/^import .*\.ts"/m);
      const source = readFileSync(join(PROJECT_ROOT, 'load', 'k6', `${scenario}.ts`), 'utf8');
      const thresholds = [...source.matchAll(/"((?:p\(\d+(?:\.\d+)?\)|rate|avg|med|min|max|count)\s*[<>=]+\s*[\d.]+)"/g)].map((match) => match[1] as string);
      expect(thresholds.length, `${scenario}: the k6 script has the scenario's thresholds`).toBeGreaterThan(0);
      for (const threshold of thresholds) expect(script, `${scenario}: ${threshold}`).toContain(`"${threshold}"`);
      expect(spec.runner.image).toBe(K6_IMAGE);
      expect(pinned(spec.runner.image)).toBe(true);
      const env = new Map(spec.runner.env.map((variable) => [variable.name as string, variable]));
      expect(env.get('BASE_URL')?.value).toBe(`http://gateway:${(find(base, 'Service', 'gateway')?.spec as { ports: Array<{ port: number }> }).ports[0]?.port}`);
      const secretRef = (env.get('AUTH_SECRET')?.valueFrom as { secretKeyRef: { name: string; key: string } }).secretKeyRef;
      expect(secretValue(find(base, 'Secret', secretRef.name), secretRef.key), scenario).toBe(DEFAULT_AUTH_SECRET);
      for (const object of [configMap, testRun]) expect(object?.metadata.namespace).toBe(NAMESPACE);
    }
  });
});

describe('kubernetes: the bundled k6 scripts', () => {
  /** Load a bundle as an ES module, k6's modules replaced by empty stand-ins (nothing runs: only the module's top level). */
  async function loadBundle(code: string): Promise<{ options?: { scenarios?: Record<string, Json>; thresholds?: Record<string, string[]> }; default?: unknown; setup?: unknown }> {
    const stubbed = code.replace(/^import (.+) from "(k6(?:\/[\w-]+)?)";$/gm, (_line, clause: string) => {
      const named = /\{([^}]*)\}/.exec(clause)?.[1]?.split(',').map((name) => name.trim()).filter(Boolean) ?? [];
      const stub = `export default {};${named.map((name) => `export const ${name} = () => undefined;`).join('')}`;
      return `import ${clause} from ${JSON.stringify(`data:text/javascript,${encodeURIComponent(stub)}`)};`;
    });
    (globalThis as { __ENV?: Record<string, string> }).__ENV = { BASE_URL: 'http://gateway:8080', AUTH_SECRET: DEFAULT_AUTH_SECRET };
    try {
      return (await import(`data:text/javascript,${encodeURIComponent(stubbed)}`)) as Awaited<ReturnType<typeof loadBundle>>;
    } finally {
      delete (globalThis as { __ENV?: unknown }).__ENV;
    }
  }

  it.each([...loadObjects.keys()])('%s: evaluates as one ES module exporting options (scenarios per phase, thresholds), setup and the default function', async (scenario) => {
    const [configMap, testRun] = loadObjects.get(scenario) as Obj[];
    const file = ((testRun as Obj).spec as { script: { configMap: { file: string } } }).script.configMap.file;
    const bundle = await loadBundle(configMap?.data?.[file] ?? '');
    expect(bundle.default).toBeTypeOf('function');
    expect(bundle.setup).toBeTypeOf('function');
    const phases = (parse(readFileSync(join(PROJECT_ROOT, 'scenarios', `${scenario}.yaml`), 'utf8')) as { phases: Array<{ name: string }> }).phases.map((phase) => phase.name);
    const tagged = Object.values(bundle.options?.scenarios ?? {}).map((entry) => (entry.tags as { phase?: string } | undefined)?.phase);
    expect(tagged.length, `${scenario}: k6 scenarios`).toBeGreaterThan(0);
    for (const phase of tagged) expect(phases, `${scenario}: k6 scenario phase`).toContain(phase);
    expect(Object.keys(bundle.options?.thresholds ?? {}).length, `${scenario}: thresholds`).toBeGreaterThan(0);
  });
});

/** Every Chaos Mesh selector in a manifest, with the experiment around it (for containerNames and port). */
function chaosSelectors(value: unknown, path = ''): Array<{ path: string; selector: Json; experiment: Json }> {
  if (Array.isArray(value)) return value.flatMap((item, index) => chaosSelectors(item, `${path}[${index}]`));
  if (typeof value !== 'object' || value === null) return [];
  const found: Array<{ path: string; selector: Json; experiment: Json }> = [];
  for (const [key, inner] of Object.entries(value as Json)) {
    const here = path === '' ? key : `${path}.${key}`;
    if (key === 'selector' && typeof inner === 'object' && inner !== null && ('namespaces' in inner || 'labelSelectors' in inner || 'expressionSelectors' in inner)) {
      found.push({ path: here, selector: inner as Json, experiment: value as Json });
    } else found.push(...chaosSelectors(inner, here));
  }
  return found;
}

/** The Deployments of the base a Chaos Mesh selector picks. For `In`, each value is checked on its own, so one misspelt name cannot hide behind another. */
function selectedWorkloads(selector: Json): { problems: string[]; templates: PodTemplate[] } {
  const problems: string[] = [];
  const namespaces = (selector.namespaces as string[] | undefined) ?? [];
  if (!namespaces.includes(NAMESPACE)) problems.push(`namespaces ${JSON.stringify(namespaces)} do not include ${NAMESPACE}`);
  const labelSelectors = (selector.labelSelectors as Record<string, string> | undefined) ?? {};
  const expressions = (selector.expressionSelectors as Array<{ key: string; operator: string; values?: string[] }> | undefined) ?? [];
  // The observability overlay: the base's workloads and the collector, which a telemetry fault stops.
  const templates = pods(observability).filter((template) => template.owner.startsWith('Deployment '));
  const satisfies = (labels: Record<string, string>) =>
    matches(labelSelectors, labels) &&
    expressions.every(({ key, operator, values = [] }) => {
      const label = labels[key];
      if (operator === 'In') return label !== undefined && values.includes(label);
      if (operator === 'NotIn') return label === undefined || !values.includes(label);
      if (operator === 'Exists') return label !== undefined;
      return label === undefined;
    });
  const picked = templates.filter((template) => satisfies(template.labels));
  if (picked.length === 0) problems.push(`selects no workload of the base or the observability overlay (${JSON.stringify({ labelSelectors, expressions })})`);
  for (const { key, operator, values = [] } of expressions) {
    if (operator !== 'In') continue;
    for (const value of values) if (!templates.some((template) => template.labels[key] === value)) problems.push(`${key} In ${value}: no workload of the base or the observability overlay has it`);
  }
  return { problems, templates: picked };
}

function chaosProblems(manifest: Json, where: string): string[] {
  const selectors = chaosSelectors(manifest);
  if (selectors.length === 0) return [];
  const problems: string[] = [];
  for (const { path, selector, experiment } of selectors) {
    const { problems: selectorProblems, templates } = selectedWorkloads(selector);
    problems.push(...selectorProblems.map((problem) => `${where} ${path}: ${problem}`));
    const containerNames = experiment.containerNames as string[] | undefined;
    const port = experiment.port as number | undefined;
    for (const template of templates) {
      for (const container of containerNames ?? []) {
        if (!template.spec.containers.some((candidate) => candidate.name === container)) problems.push(`${where} ${path}: ${template.owner} has no container ${container}`);
      }
      if (port !== undefined && !template.spec.containers.some((container) => (container.ports ?? []).some((declared) => declared.containerPort === port))) {
        problems.push(`${where} ${path}: ${template.owner} declares no port ${port}`);
      }
    }
  }
  return problems;
}

describe('kubernetes: Chaos Mesh on these workloads', () => {
  const manifestFiles = ['examples', ...readdirSync(join(PROJECT_ROOT, 'chaos', 'chaos-mesh', 'generated')).map((dir) => join('generated', dir))].flatMap((dir) =>
    readdirSync(join(PROJECT_ROOT, 'chaos', 'chaos-mesh', dir))
      .filter((file) => file.endsWith('.yaml'))
      .map((file) => join('chaos', 'chaos-mesh', dir, file)),
  );

  it.each(scenarios)(titled('faultline chaos export %s: every manifest validates against the CRDs and selects workloads of the base (or the collector of the observability overlay)', !chaosSchemas, 'no Chaos Mesh CRD schemas: the selectors are still checked'), async (scenario) => {
    const exported = exportChaosMesh(await loadScenarioForExport(scenario));
    expect(exported.manifests.length).toBeGreaterThan(0);
    const problems = exported.manifests.flatMap((manifest) => chaosProblems(manifest as unknown as Json, `${scenario}: ${manifest.kind} ${manifest.metadata.name}`));
    expect(problems).toEqual([]);
    if (!chaosSchemas) return;
    const crds = await crdsOnce();
    for (const manifest of exported.manifests) expect(crds.validate(manifest), `${scenario}: ${manifest.kind} ${manifest.metadata.name}`).toEqual([]);
  });

  it('every committed example and generated Chaos Mesh manifest selects workloads of the base (containers and ports too)', () => {
    expect(manifestFiles.length).toBeGreaterThan(10);
    const problems = manifestFiles.flatMap((file) => documents(readFileSync(join(PROJECT_ROOT, file), 'utf8'), file).flatMap((manifest) => chaosProblems(manifest as unknown as Json, file)));
    expect(problems).toEqual([]);
  });

  it('the selector check refuses a misspelt service, a foreign namespace, a missing container and an undeclared port', () => {
    const bad = {
      spec: {
        selector: { namespaces: ['default'], expressionSelectors: [{ key: NAME_LABEL, operator: 'In', values: ['payment', 'paymnet'] }] },
        containerNames: ['sidecar'],
        port: 8081,
      },
    };
    const problems = chaosProblems(bad, 'bad');
    expect(problems).toEqual([
      'bad spec.selector: namespaces ["default"] do not include faultline',
      `bad spec.selector: ${NAME_LABEL} In paymnet: no workload of the base or the observability overlay has it`,
      'bad spec.selector: Deployment payment has no container sidecar',
      'bad spec.selector: Deployment payment declares no port 8081',
    ]);
    expect(chaosProblems({ spec: { selector: { namespaces: [NAMESPACE], labelSelectors: { [NAME_LABEL]: 'nowhere' } } } }, 'x')).toHaveLength(1);
  });
});

let crdsPromise: ReturnType<typeof loadChaosMeshCrds> | undefined;
function crdsOnce(): ReturnType<typeof loadChaosMeshCrds> {
  crdsPromise ??= loadChaosMeshCrds();
  return crdsPromise;
}

describe('kubernetes: the example CI workflow (kind)', () => {
  const WORKFLOW = join(PROJECT_ROOT, '.github', 'workflows', 'kind.yml');
  const workflow = parse(readFileSync(WORKFLOW, 'utf8')) as { name: string; on: unknown; jobs: Record<string, { 'runs-on': string; 'timeout-minutes'?: number; steps: Array<{ name?: string; uses?: string; run?: string; with?: Json }> }> };

  it('is a GitHub Actions workflow: triggers, jobs on a runner, steps that run or use a pinned action', () => {
    expect(workflow.name).toBeTypeOf('string');
    expect(workflow.on).toBeDefined();
    const jobs = Object.entries(workflow.jobs);
    expect(jobs.length).toBeGreaterThan(0);
    for (const [name, job] of jobs) {
      expect(job['runs-on'], name).toBeTypeOf('string');
      expect(job['timeout-minutes'], `${name}: a time limit`).toBeGreaterThan(0);
      expect(job.steps.length, name).toBeGreaterThan(0);
      for (const step of job.steps) {
        expect(Number(step.run !== undefined) + Number(step.uses !== undefined), `${name}: ${step.name ?? '?'} runs or uses (one of them)`).toBe(1);
        if (step.uses !== undefined) expect(step.uses, `${name}: ${step.uses} is pinned to a version`).toMatch(/^[\w.-]+\/[\w.-]+(\/[\w./-]+)?@(v\d+(\.\d+){0,2}|[a-f0-9]{40})$/);
        if (step.run !== undefined) {
          const check = spawnSync('bash', ['-n'], { input: step.run, encoding: 'utf8' });
          expect(check.status, `${name}: ${step.name ?? '?'}: bash -n: ${check.stderr}`).toBe(0);
        }
      }
    }
  });

  it('creates a kind cluster, installs the operators, applies the overlay and a scenario, with paths and commands that exist here', () => {
    const script = Object.values(workflow.jobs)
      .flatMap((job) => job.steps.map((step) => `${step.uses ?? ''}\n${step.run ?? ''}\n${JSON.stringify(step.with ?? {})}`))
      .join('\n');
    expect(script).toMatch(/kind create cluster|helm\/kind-action/);
    expect(script).toMatch(/chaos-mesh/);
    expect(script).toMatch(/prometheus-operator/);
    expect(script).toMatch(/k6-operator/);
    expect(script).toContain('kubectl apply --server-side -k deploy/kubernetes/overlays/observability');
    // Every repository path it names exists, and every scenario it runs has its manifests.
    const paths = [...script.matchAll(/\b((?:deploy|chaos|load|scenarios)\/[\w./-]+)/g)].map((match) => (match[1] as string).replace(/[.,]$/, ''));
    expect(paths.length).toBeGreaterThan(2);
    for (const path of paths) expect(existsSync(join(PROJECT_ROOT, path.replace('$SCENARIO', 'payment-outage'))), path).toBe(true);
    // The versions of the images it loads into kind are the ones the manifests pin.
    for (const [image] of script.matchAll(/faultline\/shop:[\w.-]+/g)) expect(image).toBe((find(base, 'Deployment', 'gateway')?.spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0]?.image);
  });
});

